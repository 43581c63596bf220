using System.Buffers;
using System.Runtime.ExceptionServices;
using System.Security.Cryptography;
using Accelerator.Oci.Registry;

namespace Accelerator.Oci.Mirrors;

/// <summary>
/// The blobs of one registry read through its mirror set: from mirrors known to hold the image, balanced by the
/// configured policy, failing over to the next host — and finally the origin — when a host lacks the blob (404),
/// errs, stalls, or sends bytes that do not hash to the digest.
/// </summary>
/// <remarks>
/// <para>
/// <b>No wrong byte reaches the caller.</b> A whole blob is written to a spool (memory up to
/// <see cref="MirrorOptions.MemorySpoolLimit"/>, else a file; or the caller's file with
/// <see cref="DownloadToFileAsync"/>) and handed on only once its digest is verified. When a host fails part-way, the
/// next one continues with a <c>Range</c> request for the bytes not yet received; the digest is then checked over the
/// whole. If that check fails after bytes came from more than one host, nobody can tell which host was wrong, so the
/// blob is read again from the start, from one host at a time, without resuming.
/// </para>
/// <para>
/// Ranges cannot be checked against the blob digest (callers check their own chunk digests). A range up to
/// <see cref="MirrorOptions.RangeBufferLimit"/> is read whole from one host before it is handed on, so a failure at any
/// point moves the whole range to the next host; a longer range streams from one host and fails over only before its
/// first byte — it never mixes bytes from two hosts.
/// </para>
/// <para>
/// Every read goes through one failover loop (<see cref="MirrorFailover"/>: hosts in order, errors classified, hosts
/// marked); whole-blob reads (spooling, segments, verification) are <see cref="MirroredBlobDownload"/>'s, and a streamed
/// range is guarded against stalls by <see cref="StallGuardedStream"/>.
/// </para>
/// </remarks>
public sealed class MirroredBlobSource : IBlobSource, IBlobExistence, IBlobDownloader
{
    private readonly MirrorSet _set;
    private readonly MirroredBlobDownload _download;

    internal MirroredBlobSource(MirrorSet set)
    {
        _set = set;
        _download = new MirroredBlobDownload(set);
    }

    /// <summary>The registry whose blobs these are.</summary>
    public string Registry => _set.Registry;

    /// <inheritdoc />
    public async ValueTask<long> GetSizeAsync(BlobAddress blob, CancellationToken cancellationToken = default)
    {
        if (blob.HasSize)
        {
            return blob.Size;
        }

        return await HeadAsync(blob, cancellationToken).ConfigureAwait(false)
            ?? throw new BlobNotFoundException($"blob {blob}", $"any host of {Registry}'s mirror set");
    }

    /// <inheritdoc />
    public async ValueTask<bool> ExistsAsync(BlobAddress blob, CancellationToken cancellationToken = default)
        => await HeadAsync(blob, cancellationToken).ConfigureAwait(false) is not null;

    /// <inheritdoc />
    /// <remarks>The stream is over verified bytes (in memory or an unlinked spool file); it never throws a digest mismatch.</remarks>
    public Task<Stream> OpenReadAsync(BlobAddress blob, CancellationToken cancellationToken = default)
        => _download.ToSpoolAsync(blob, cancellationToken);

    /// <inheritdoc />
    public Task<IReadOnlyDictionary<string, long>> DownloadToFileAsync(BlobAddress blob, string path, IProgress<long>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        return _download.ToFileAsync(blob, path, progress, cancellationToken);
    }

    /// <inheritdoc />
    public async Task<Stream> OpenRangeAsync(BlobAddress blob, long offset, long length, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        if (blob.HasSize)
        {
            length = offset >= blob.Size ? 0 : Math.Min(length, blob.Size - offset);
        }

        if (length == 0)
        {
            return Stream.Null;
        }

        var plan = await _set.PlanAsync(blob.Repository, blob.Digest, cancellationToken).ConfigureAwait(false);
        return length <= _set.Options.RangeBufferLimit
            ? await ReadBufferedRangeAsync(plan, blob, offset, (int)length, cancellationToken).ConfigureAwait(false)
            : await OpenStreamingRangeAsync(plan, blob, offset, length, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>A short range, read whole from one host before it is handed on: a failure anywhere moves it to the next host.</summary>
    private Task<Stream> ReadBufferedRangeAsync(IReadOnlyList<MirrorRoute> plan, BlobAddress blob, long offset, int length, CancellationToken cancellationToken)
    {
        var rules = new FailoverRules { What = $"range of blob {blob.Digest}", Subject = $"range {offset}+{length} of blob {blob}" };
        return MirrorFailover.RunAsync(_set, plan, rules, async attempt =>
        {
            var route = attempt.Route;
            byte[] bytes = new byte[length];
            attempt.ArmStallUnlessOrigin();
            await using var body = await route.Host.Client.GetBlobRangeAsync(route.Key, blob.Repository, blob.Digest, offset, length, attempt.Token).ConfigureAwait(false);
            int total = 0;
            while (total < length)
            {
                attempt.ArmStall();
                int n = await body.ReadAsync(bytes.AsMemory(total), attempt.Token).ConfigureAwait(false);
                if (n == 0)
                {
                    break;
                }

                total += n;
                _set.CountBytes(route, n);
            }

            attempt.DisarmStall();
            if (blob.HasSize && total < length)
            {
                // The length was cut to the blob's end, so a short range is a truncated answer.
                throw new EndOfStreamException($"the range ended after {total} of {length} bytes");
            }

            _set.ReportSuccess(route);
            return (Stream)new MemoryStream(bytes, 0, total, writable: false);
        }, cancellationToken);
    }

    /// <summary>A long range, streamed from one host: it fails over only before its first byte, never mixing hosts.</summary>
    private Task<Stream> OpenStreamingRangeAsync(IReadOnlyList<MirrorRoute> plan, BlobAddress blob, long offset, long length, CancellationToken cancellationToken)
    {
        var rules = new FailoverRules
        {
            What = $"range of blob {blob.Digest}",
            Subject = $"range {offset}+{length} of blob {blob}",
            Reason = static (_, _) => "error",
            LogNotFound = false,
        };
        return MirrorFailover.RunAsync(_set, plan, rules, async attempt =>
        {
            var route = attempt.Route;
            attempt.ArmStallUnlessOrigin();
            var body = await route.Host.Client.GetBlobRangeAsync(route.Key, blob.Repository, blob.Digest, offset, length, attempt.Token).ConfigureAwait(false);
            attempt.DisarmStall();
            var (scope, stall) = attempt.Detach();
            return (Stream)new StallGuardedStream(body, _set, route, scope, stall);
        }, cancellationToken);
    }

    /// <summary>HEAD at the hosts in plan order: the size from the first that has the blob, null when none has it.</summary>
    private async Task<long?> HeadAsync(BlobAddress blob, CancellationToken cancellationToken)
    {
        var plan = await _set.PlanAsync(blob.Repository, blob.Digest, cancellationToken).ConfigureAwait(false);
        var rules = new FailoverRules { What = $"blob {blob.Digest}", Subject = $"blob {blob}", StallFromStart = true, LogNotFound = false, LogFailures = false };
        try
        {
            return await MirrorFailover.RunAsync<long?>(_set, plan, rules, async attempt =>
            {
                var route = attempt.Route;
                // A size other than the address says means the address is wrong: the blob asked for is not there.
                if (await route.Host.Client.HeadBlobAsync(route.Key, blob.Repository, blob.Digest, attempt.Token).ConfigureAwait(false) is long size
                    && (!blob.HasSize || size == blob.Size))
                {
                    _set.ReportSuccess(route);
                    return size;
                }

                throw new BlobNotFoundException($"blob {blob}", route.SourceName);
            }, cancellationToken).ConfigureAwait(false);
        }
        catch (BlobNotFoundException)
        {
            return null;
        }
    }
}

using System.Buffers;
using System.Collections.Concurrent;
using System.Runtime.ExceptionServices;
using System.Security.Cryptography;
using Accelerator.Oci.Registry;

namespace Accelerator.Oci.Mirrors;

/// <summary>
/// Whole-blob reads through a mirror set, verified before anything is handed on: into a spool (memory up to
/// <see cref="MirrorOptions.MemorySpoolLimit"/>, else an unlinked file), the caller's file, or a stream. A large blob is
/// fetched in segments from several healthy mirrors at once; otherwise, and whenever that fails, from one host at a time
/// through <see cref="MirrorFailover"/>, the next host resuming with a <c>Range</c> where the last one stopped. If the
/// digest check fails over bytes of several hosts, nobody can tell which was wrong, so the blob is read again from the
/// start, one host at a time, without resuming.
/// </summary>
internal sealed class MirroredBlobDownload(MirrorSet set)
{
    private const int BufferSize = 1 << 20;

    /// <summary>Reads <paramref name="blob"/> into a spool and returns a stream over its verified bytes (the spool file goes when it is closed).</summary>
    public async Task<Stream> ToSpoolAsync(BlobAddress blob, CancellationToken cancellationToken)
    {
        if (blob.HasSize && blob.Size <= set.Options.MemorySpoolLimit)
        {
            var memory = new MemoryStream((int)blob.Size);
            await ToStreamAsync(blob, memory, null, cancellationToken).ConfigureAwait(false);
            return new MemoryStream(memory.GetBuffer(), 0, (int)memory.Length, writable: false);
        }

        string directory = set.Options.SpoolDirectory ?? Path.GetTempPath();
        Directory.CreateDirectory(directory);
        string spool = Path.Combine(directory, $".accel-spool-{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8))}");
        try
        {
            await using (var writer = new FileStream(spool, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.Read, 1, FileOptions.Asynchronous))
            {
                await ToStreamAsync(blob, writer, null, cancellationToken).ConfigureAwait(false);
            }

            // The reader deletes the spool when it is closed.
            return new FileStream(spool, FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete, BufferSize, FileOptions.Asynchronous | FileOptions.DeleteOnClose | FileOptions.SequentialScan);
        }
        catch
        {
            File.Delete(spool);
            throw;
        }
    }

    /// <summary>Reads <paramref name="blob"/> into <paramref name="path"/> (through a temporary file, moved into place once verified).</summary>
    public async Task<IReadOnlyDictionary<string, long>> ToFileAsync(BlobAddress blob, string path, IProgress<long>? progress, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        string temp = $"{path}.{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(6))}.partial";
        try
        {
            IReadOnlyDictionary<string, long> sources;
            await using (var file = new FileStream(temp, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, 1, FileOptions.Asynchronous))
            {
                sources = await ToStreamAsync(blob, file, progress, cancellationToken).ConfigureAwait(false);
            }

            File.Move(temp, path, overwrite: false);
            return sources;
        }
        finally
        {
            File.Delete(temp);
        }
    }

    /// <summary>
    /// Reads a whole blob into <paramref name="target"/> (empty, seekable), verified, failing over between hosts: in
    /// segments from several mirrors at once when the blob is large, else (and whenever that fails) from one host at a
    /// time, resuming at the next host where the last one stopped.
    /// </summary>
    public async Task<IReadOnlyDictionary<string, long>> ToStreamAsync(BlobAddress blob, Stream target, IProgress<long>? progress, CancellationToken cancellationToken)
    {
        var plan = await set.PlanAsync(blob.Repository, blob.Digest, cancellationToken).ConfigureAwait(false);
        var sources = new Dictionary<string, long>(StringComparer.Ordinal);
        bool resume = blob.HasSize;
        if (target is FileStream file && SegmentHosts(blob, plan) is { Count: >= 2 } hosts)
        {
            if (await TrySegmentedAsync(blob, file, hosts, sources, progress, cancellationToken).ConfigureAwait(false))
            {
                return sources;
            }

            // Bytes of several hosts that do not verify, or segments nobody could serve: start over, one host at a time.
            target.SetLength(0);
            target.Position = 0;
            progress?.Report(0);
            resume = false;
        }

        return await DownloadSequentiallyAsync(blob, target, plan, sources, resume, progress, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>One host at a time, each resuming where the last stopped (when the size is known and <paramref name="resume"/>).</summary>
    private async Task<IReadOnlyDictionary<string, long>> DownloadSequentiallyAsync(BlobAddress blob, Stream target, IReadOnlyList<MirrorRoute> plan, Dictionary<string, long> sources, bool resume, IProgress<long>? progress, CancellationToken cancellationToken)
    {
        var queue = new List<MirrorRoute>(plan);
        var tries = new Dictionary<MirrorRoute, int>();
        var contributors = new List<MirrorRoute>();
        // Resuming with a Range needs the size; after a mismatch over bytes of several hosts, it is switched off.
        long written = 0;
        var hash = blob.Digest.CreateHasher();
        byte[] buffer = ArrayPool<byte>.Shared.Rent(BufferSize);
        var rules = new FailoverRules
        {
            What = $"blob {blob.Digest}",
            Subject = $"blob {blob}",
            AfterFailure = async () =>
            {
                if (!resume)
                {
                    await RestartAsync().ConfigureAwait(false);
                }
            },
        };
        try
        {
            return await MirrorFailover.RunAsync(set, queue, rules, AttemptAsync, cancellationToken).ConfigureAwait(false);
        }
        catch (LocalWriteException ex)
        {
            ExceptionDispatchInfo.Throw(ex.InnerException!);
            throw;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
            hash.Dispose();
        }

        async Task<IReadOnlyDictionary<string, long>> AttemptAsync(MirrorAttempt attempt)
        {
            var route = attempt.Route;
            tries[route] = tries.GetValueOrDefault(route) + 1;
            if (!resume && written > 0)
            {
                await RestartAsync().ConfigureAwait(false);
            }

            attempt.ArmStallUnlessOrigin();
            var client = route.Host.Client;
            await using var body = blob.HasSize
                ? await client.GetBlobRangeAsync(route.Key, blob.Repository, blob.Digest, written, blob.Size - written, attempt.Token).ConfigureAwait(false)
                : await client.GetBlobAsync(route.Key, blob.Repository, blob.Digest, -1, attempt.Token).ConfigureAwait(false);
            if (!contributors.Contains(route))
            {
                contributors.Add(route);
            }

            while (true)
            {
                int wanted = blob.HasSize ? (int)Math.Min(buffer.Length, blob.Size - written) : buffer.Length;
                if (wanted == 0)
                {
                    break;
                }

                attempt.ArmStall();
                int n = await body.ReadAsync(buffer.AsMemory(0, wanted), attempt.Token).ConfigureAwait(false);
                if (n == 0)
                {
                    break;
                }

                await WriteAsync(buffer.AsMemory(0, n)).ConfigureAwait(false);
                hash.AppendData(buffer, 0, n);
                written += n;
                sources[route.SourceName] = sources.GetValueOrDefault(route.SourceName) + n;
                set.CountBytes(route, n);
                progress?.Report(written);
            }

            attempt.DisarmStall();
            if (blob.HasSize && written < blob.Size)
            {
                throw new EndOfStreamException($"the body ended after {written} of {blob.Size} bytes");
            }

            var actual = Digest.FromHash(blob.Digest.Algorithm, hash.GetHashAndReset());
            if (actual == blob.Digest)
            {
                set.ReportSuccess(route);
                route.Host.AddBlob();
                await target.FlushAsync(cancellationToken).ConfigureAwait(false);
                target.Position = 0;
                return sources;
            }

            var mismatch = new DigestMismatchException(blob.Digest, actual.ToString(), route.SourceName);
            bool alone = contributors.Count == 1;
            if (!alone)
            {
                // Bytes of several hosts: which one was wrong is unknowable. Read again from scratch, one host at a
                // time, giving each contributor one more chance.
                resume = false;
                queue.AddRange(contributors.Where(c => tries[c] < 2 && !queue.Skip(attempt.Index + 1).Contains(c)));
            }

            await RestartAsync().ConfigureAwait(false);
            throw new RejectedAnswerException("bad bytes", mismatch, alone ? "digest" : null, "digest mismatch");
        }

        async Task WriteAsync(ReadOnlyMemory<byte> data)
        {
            try
            {
                await target.WriteAsync(data, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                throw new LocalWriteException(ex);
            }
        }

        async Task RestartAsync()
        {
            await target.FlushAsync(cancellationToken).ConfigureAwait(false);
            target.SetLength(0);
            target.Position = 0;
            written = 0;
            hash.GetHashAndReset();
            contributors.Clear();
            progress?.Report(0);
        }
    }

    /// <summary>The healthy mirrors (in the plan's order) to fetch a large blob from at once, or an empty list.</summary>
    private List<MirrorRoute> SegmentHosts(BlobAddress blob, IReadOnlyList<MirrorRoute> plan)
    {
        var options = set.Options;
        if (options.SegmentSize == 0 || !blob.HasSize || blob.Size < 2 * options.SegmentSize
            || options.LoadBalancing is not (LoadBalancingPolicy.LeastOutstandingRequests or LoadBalancingPolicy.RoundRobin))
        {
            return [];
        }

        // The plan lists the healthy mirrors holding the image first, then the origin.
        return plan.TakeWhile(r => !r.IsOrigin && r.Host.Health.IsAvailable).ToList();
    }

    /// <summary>
    /// Fetches the blob in segments, one worker per host taking the next segment when it has finished one; a host that
    /// fails hands its segment back and stops. Then the whole file is hashed. False when segments are left that no host
    /// could serve, or when the bytes do not verify (and, coming from several hosts, nobody can say whose were wrong).
    /// </summary>
    private async Task<bool> TrySegmentedAsync(BlobAddress blob, FileStream target, List<MirrorRoute> hosts, Dictionary<string, long> sources, IProgress<long>? progress, CancellationToken cancellationToken)
    {
        long segmentSize = set.Options.SegmentSize;
        int count = (int)((blob.Size + segmentSize - 1) / segmentSize);
        var pending = new ConcurrentQueue<int>(Enumerable.Range(0, count));
        var failed = new ConcurrentDictionary<MirrorRoute, bool>();
        var handle = target.SafeFileHandle;
        target.SetLength(blob.Size);
        long done = 0;

        async Task WorkAsync(MirrorRoute route)
        {
            byte[] buffer = ArrayPool<byte>.Shared.Rent(BufferSize);
            try
            {
                while (pending.TryDequeue(out int index))
                {
                    long offset = index * segmentSize;
                    long length = Math.Min(segmentSize, blob.Size - offset);
                    using var scope = set.Begin(route);
                    using var stall = new CancellationTokenSource(set.Options.StallTimeout, set.Time);
                    using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, stall.Token);
                    try
                    {
                        await using var body = await route.Host.Client.GetBlobRangeAsync(route.Key, blob.Repository, blob.Digest, offset, length, linked.Token).ConfigureAwait(false);
                        long got = 0;
                        while (got < length)
                        {
                            stall.CancelAfter(set.Options.StallTimeout);
                            int n = await body.ReadAsync(buffer.AsMemory(0, (int)Math.Min(buffer.Length, length - got)), linked.Token).ConfigureAwait(false);
                            if (n == 0)
                            {
                                throw new EndOfStreamException($"the range ended after {got} of {length} bytes");
                            }

                            await WriteAsync(handle, buffer.AsMemory(0, n), offset + got).ConfigureAwait(false);
                            got += n;
                            set.CountBytes(route, n);
                            lock (sources)
                            {
                                sources[route.SourceName] = sources.GetValueOrDefault(route.SourceName) + n;
                            }

                            progress?.Report(Interlocked.Add(ref done, n));
                        }

                        set.ReportSuccess(route);
                    }
                    catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
                    {
                        throw;
                    }
                    catch (Exception ex) when (MirrorFailover.IsTransportFailure(ex))
                    {
                        // Another host takes the segment over, from its start.
                        failed[route] = true;
                        pending.Enqueue(index);
                        if (ex is not BlobNotFoundException)
                        {
                            set.ReportFailure(route, stall.IsCancellationRequested ? "stalled" : "error", ex);
                        }

                        set.LogFallback($"segment {index} of blob {blob.Digest}", route, ex is BlobNotFoundException ? "not found" : "error");
                        return;
                    }
                }
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }

        try
        {
            // A segment handed back after the other workers found the queue empty is taken by a new round of the hosts
            // that have not failed.
            List<MirrorRoute> alive;
            while (!pending.IsEmpty && (alive = hosts.Where(h => !failed.ContainsKey(h)).ToList()).Count > 0)
            {
                await Task.WhenAll(alive.Select(WorkAsync)).ConfigureAwait(false);
            }
        }
        catch (LocalWriteException ex)
        {
            ExceptionDispatchInfo.Throw(ex.InnerException!);
        }

        if (!pending.IsEmpty)
        {
            return false;
        }

        using var hash = blob.Digest.CreateHasher();
        byte[] chunk = ArrayPool<byte>.Shared.Rent(BufferSize);
        try
        {
            for (long at = 0; at < blob.Size;)
            {
                int n = await RandomAccess.ReadAsync(handle, chunk.AsMemory(0, (int)Math.Min(chunk.Length, blob.Size - at)), at, cancellationToken).ConfigureAwait(false);
                if (n == 0)
                {
                    return false;
                }

                hash.AppendData(chunk, 0, n);
                at += n;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(chunk);
        }

        var actual = Digest.FromHash(blob.Digest.Algorithm, hash.GetHashAndReset());
        if (actual != blob.Digest)
        {
            set.LogFallback($"blob {blob.Digest}", hosts[0], $"segments from {hosts.Count} hosts do not verify ({actual}); reading it again from one host at a time");
            return false;
        }

        target.Position = 0;
        return true;

        async Task WriteAsync(Microsoft.Win32.SafeHandles.SafeFileHandle file, ReadOnlyMemory<byte> data, long position)
        {
            try
            {
                await RandomAccess.WriteAsync(file, data, position, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                throw new LocalWriteException(ex);
            }
        }
    }

    /// <summary>A failure to write the spool: the caller's problem, not the host's, so it ends the read.</summary>
    private sealed class LocalWriteException(Exception inner) : Exception(inner.Message, inner);
}

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
/// </remarks>
public sealed class MirroredBlobSource : IBlobSource, IBlobExistence, IBlobDownloader
{
    private const int BufferSize = 1 << 20;

    private readonly MirrorSet _set;

    internal MirroredBlobSource(MirrorSet set) => _set = set;

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
    public async Task<Stream> OpenReadAsync(BlobAddress blob, CancellationToken cancellationToken = default)
    {
        if (blob.HasSize && blob.Size <= _set.Options.MemorySpoolLimit)
        {
            var memory = new MemoryStream((int)blob.Size);
            await DownloadAsync(blob, memory, null, cancellationToken).ConfigureAwait(false);
            return new MemoryStream(memory.GetBuffer(), 0, (int)memory.Length, writable: false);
        }

        string directory = _set.Options.SpoolDirectory ?? Path.GetTempPath();
        Directory.CreateDirectory(directory);
        string spool = Path.Combine(directory, $".accel-spool-{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8))}");
        try
        {
            await using (var writer = new FileStream(spool, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.Read, 1, FileOptions.Asynchronous))
            {
                await DownloadAsync(blob, writer, null, cancellationToken).ConfigureAwait(false);
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

    /// <inheritdoc />
    public async Task<IReadOnlyDictionary<string, long>> DownloadToFileAsync(BlobAddress blob, string path, IProgress<long>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        string temp = $"{path}.{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(6))}.partial";
        try
        {
            IReadOnlyDictionary<string, long> sources;
            await using (var file = new FileStream(temp, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, 1, FileOptions.Asynchronous))
            {
                sources = await DownloadAsync(blob, file, progress, cancellationToken).ConfigureAwait(false);
            }

            File.Move(temp, path, overwrite: false);
            return sources;
        }
        finally
        {
            File.Delete(temp);
        }
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

    /// <summary>
    /// Reads a whole blob into <paramref name="target"/> (empty, seekable), verified, failing over between hosts: in
    /// segments from several mirrors at once when the blob is large, else (and whenever that fails) from one host at a
    /// time, resuming at the next host where the last one stopped.
    /// </summary>
    private async Task<IReadOnlyDictionary<string, long>> DownloadAsync(BlobAddress blob, Stream target, IProgress<long>? progress, CancellationToken cancellationToken)
    {
        var plan = await _set.PlanAsync(blob.Repository, blob.Digest, cancellationToken).ConfigureAwait(false);
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

    private async Task<IReadOnlyDictionary<string, long>> DownloadSequentiallyAsync(BlobAddress blob, Stream target, IReadOnlyList<MirrorRoute> plan, Dictionary<string, long> sources, bool resume, IProgress<long>? progress, CancellationToken cancellationToken)
    {
        var queue = new List<MirrorRoute>(plan);
        var tries = new Dictionary<MirrorRoute, int>();
        var contributors = new List<MirrorRoute>();
        var errors = new FailoverErrors();
        // Resuming with a Range needs the size; after a mismatch over bytes of several hosts, it is switched off.
        long written = 0;
        var hash = blob.Digest.CreateHasher();
        byte[] buffer = ArrayPool<byte>.Shared.Rent(BufferSize);
        try
        {
            for (int next = 0; next < queue.Count; next++)
            {
                var route = queue[next];
                tries[route] = tries.GetValueOrDefault(route) + 1;
                if (!resume && written > 0)
                {
                    await RestartAsync().ConfigureAwait(false);
                }

                using var scope = _set.Begin(route);
                using var stall = new CancellationTokenSource(Timeout.InfiniteTimeSpan, _set.Time);
                using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, stall.Token);
                try
                {
                    if (!route.IsOrigin)
                    {
                        stall.CancelAfter(_set.Options.StallTimeout);
                    }

                    var client = route.Host.Client;
                    await using var body = blob.HasSize
                        ? await client.GetBlobRangeAsync(route.Key, blob.Repository, blob.Digest, written, blob.Size - written, linked.Token).ConfigureAwait(false)
                        : await client.GetBlobAsync(route.Key, blob.Repository, blob.Digest, -1, linked.Token).ConfigureAwait(false);
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

                        stall.CancelAfter(_set.Options.StallTimeout);
                        int n = await body.ReadAsync(buffer.AsMemory(0, wanted), linked.Token).ConfigureAwait(false);
                        if (n == 0)
                        {
                            break;
                        }

                        await WriteAsync(buffer.AsMemory(0, n)).ConfigureAwait(false);
                        hash.AppendData(buffer, 0, n);
                        written += n;
                        sources[route.SourceName] = sources.GetValueOrDefault(route.SourceName) + n;
                        _set.CountBytes(route, n);
                        progress?.Report(written);
                    }

                    stall.CancelAfter(Timeout.InfiniteTimeSpan);
                    if (blob.HasSize && written < blob.Size)
                    {
                        throw new EndOfStreamException($"the body ended after {written} of {blob.Size} bytes");
                    }

                    var actual = Digest.FromHash(blob.Digest.Algorithm, hash.GetHashAndReset());
                    if (actual == blob.Digest)
                    {
                        _set.ReportSuccess(route);
                        route.Host.AddBlob();
                        await target.FlushAsync(cancellationToken).ConfigureAwait(false);
                        target.Position = 0;
                        return sources;
                    }

                    var mismatch = new DigestMismatchException(blob.Digest, actual.ToString(), route.SourceName);
                    errors.Failed(route, "bad bytes", mismatch);
                    if (contributors.Count == 1)
                    {
                        _set.ReportFailure(route, "digest", mismatch);
                    }
                    else
                    {
                        // Bytes of several hosts: which one was wrong is unknowable. Read again from scratch, one host
                        // at a time, giving each contributor one more chance.
                        resume = false;
                        queue.AddRange(contributors.Where(c => tries[c] < 2 && !queue.Skip(next + 1).Contains(c)));
                    }

                    _set.LogFallback($"blob {blob.Digest}", route, "digest mismatch");
                    await RestartAsync().ConfigureAwait(false);
                }
                catch (LocalWriteException ex)
                {
                    ExceptionDispatchInfo.Throw(ex.InnerException!);
                }
                catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
                {
                    throw;
                }
                catch (BlobNotFoundException)
                {
                    errors.NotFound(route);
                    _set.LogFallback($"blob {blob.Digest}", route, "not found");
                }
                catch (Exception ex) when (ex is IOException or HttpRequestException or OperationCanceledException or TimeoutException)
                {
                    string reason = stall.IsCancellationRequested ? "stalled" : "error";
                    errors.Failed(route, reason, ex);
                    _set.ReportFailure(route, reason, ex);
                    _set.LogFallback($"blob {blob.Digest}", route, reason);
                    if (!resume)
                    {
                        await RestartAsync().ConfigureAwait(false);
                    }
                }
            }

            throw errors.ToException($"blob {blob}", Registry);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
            hash.Dispose();
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
        var options = _set.Options;
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
        long segmentSize = _set.Options.SegmentSize;
        int count = (int)((blob.Size + segmentSize - 1) / segmentSize);
        var pending = new System.Collections.Concurrent.ConcurrentQueue<int>(Enumerable.Range(0, count));
        var failed = new System.Collections.Concurrent.ConcurrentDictionary<MirrorRoute, bool>();
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
                    using var scope = _set.Begin(route);
                    using var stall = new CancellationTokenSource(_set.Options.StallTimeout, _set.Time);
                    using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, stall.Token);
                    try
                    {
                        await using var body = await route.Host.Client.GetBlobRangeAsync(route.Key, blob.Repository, blob.Digest, offset, length, linked.Token).ConfigureAwait(false);
                        long got = 0;
                        while (got < length)
                        {
                            stall.CancelAfter(_set.Options.StallTimeout);
                            int n = await body.ReadAsync(buffer.AsMemory(0, (int)Math.Min(buffer.Length, length - got)), linked.Token).ConfigureAwait(false);
                            if (n == 0)
                            {
                                throw new EndOfStreamException($"the range ended after {got} of {length} bytes");
                            }

                            await WriteAsync(handle, buffer.AsMemory(0, n), offset + got).ConfigureAwait(false);
                            got += n;
                            _set.CountBytes(route, n);
                            lock (sources)
                            {
                                sources[route.SourceName] = sources.GetValueOrDefault(route.SourceName) + n;
                            }

                            progress?.Report(Interlocked.Add(ref done, n));
                        }

                        _set.ReportSuccess(route);
                    }
                    catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
                    {
                        throw;
                    }
                    catch (Exception ex) when (ex is IOException or HttpRequestException or OperationCanceledException or TimeoutException && ex is not LocalWriteException)
                    {
                        // Another host takes the segment over, from its start.
                        failed[route] = true;
                        pending.Enqueue(index);
                        if (ex is not BlobNotFoundException)
                        {
                            _set.ReportFailure(route, stall.IsCancellationRequested ? "stalled" : "error", ex);
                        }

                        _set.LogFallback($"segment {index} of blob {blob.Digest}", route, ex is BlobNotFoundException ? "not found" : "error");
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
            _set.LogFallback($"blob {blob.Digest}", hosts[0], $"segments from {hosts.Count} hosts do not verify ({actual}); reading it again from one host at a time");
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

    private async Task<Stream> ReadBufferedRangeAsync(IReadOnlyList<MirrorRoute> plan, BlobAddress blob, long offset, int length, CancellationToken cancellationToken)
    {
        var errors = new FailoverErrors();
        byte[] bytes = new byte[length];
        foreach (var route in plan)
        {
            using var scope = _set.Begin(route);
            using var stall = new CancellationTokenSource(Timeout.InfiniteTimeSpan, _set.Time);
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, stall.Token);
            try
            {
                if (!route.IsOrigin)
                {
                    stall.CancelAfter(_set.Options.StallTimeout);
                }

                await using var body = await route.Host.Client.GetBlobRangeAsync(route.Key, blob.Repository, blob.Digest, offset, length, linked.Token).ConfigureAwait(false);
                int total = 0;
                while (total < length)
                {
                    stall.CancelAfter(_set.Options.StallTimeout);
                    int n = await body.ReadAsync(bytes.AsMemory(total), linked.Token).ConfigureAwait(false);
                    if (n == 0)
                    {
                        break;
                    }

                    total += n;
                    _set.CountBytes(route, n);
                }

                stall.CancelAfter(Timeout.InfiniteTimeSpan);
                if (blob.HasSize && total < length)
                {
                    // The length was cut to the blob's end, so a short range is a truncated answer.
                    throw new EndOfStreamException($"the range ended after {total} of {length} bytes");
                }

                _set.ReportSuccess(route);
                return new MemoryStream(bytes, 0, total, writable: false);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                throw;
            }
            catch (BlobNotFoundException)
            {
                errors.NotFound(route);
                _set.LogFallback($"range of blob {blob.Digest}", route, "not found");
            }
            catch (Exception ex) when (ex is IOException or HttpRequestException or OperationCanceledException or TimeoutException)
            {
                string reason = stall.IsCancellationRequested ? "stalled" : "error";
                errors.Failed(route, reason, ex);
                _set.ReportFailure(route, reason, ex);
                _set.LogFallback($"range of blob {blob.Digest}", route, reason);
            }
        }

        throw errors.ToException($"range {offset}+{length} of blob {blob}", Registry);
    }

    private async Task<Stream> OpenStreamingRangeAsync(IReadOnlyList<MirrorRoute> plan, BlobAddress blob, long offset, long length, CancellationToken cancellationToken)
    {
        var errors = new FailoverErrors();
        foreach (var route in plan)
        {
            var scope = _set.Begin(route);
            var stall = new CancellationTokenSource(Timeout.InfiniteTimeSpan, _set.Time);
            try
            {
                if (!route.IsOrigin)
                {
                    stall.CancelAfter(_set.Options.StallTimeout);
                }

                using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, stall.Token);
                var body = await route.Host.Client.GetBlobRangeAsync(route.Key, blob.Repository, blob.Digest, offset, length, linked.Token).ConfigureAwait(false);
                stall.CancelAfter(Timeout.InfiniteTimeSpan);
                return new StallGuardedStream(body, _set, route, scope, stall);
            }
            catch (Exception ex)
            {
                scope.Dispose();
                stall.Dispose();
                if (ex is OperationCanceledException && cancellationToken.IsCancellationRequested)
                {
                    throw;
                }

                if (ex is BlobNotFoundException)
                {
                    errors.NotFound(route);
                    continue;
                }

                if (ex is not (IOException or HttpRequestException or OperationCanceledException or TimeoutException))
                {
                    throw;
                }

                errors.Failed(route, "error", ex);
                _set.ReportFailure(route, "error", ex);
                _set.LogFallback($"range of blob {blob.Digest}", route, "error");
            }
        }

        throw errors.ToException($"range {offset}+{length} of blob {blob}", Registry);
    }

    /// <summary>HEAD at the hosts in plan order: the size from the first that has the blob, null when none has it.</summary>
    private async Task<long?> HeadAsync(BlobAddress blob, CancellationToken cancellationToken)
    {
        var plan = await _set.PlanAsync(blob.Repository, blob.Digest, cancellationToken).ConfigureAwait(false);
        var errors = new FailoverErrors();
        foreach (var route in plan)
        {
            using var scope = _set.Begin(route);
            using var stall = new CancellationTokenSource(route.IsOrigin ? Timeout.InfiniteTimeSpan : _set.Options.StallTimeout, _set.Time);
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, stall.Token);
            try
            {
                // A size other than the address says means the address is wrong: the blob asked for is not there.
                if (await route.Host.Client.HeadBlobAsync(route.Key, blob.Repository, blob.Digest, linked.Token).ConfigureAwait(false) is long size
                    && (!blob.HasSize || size == blob.Size))
                {
                    _set.ReportSuccess(route);
                    return size;
                }

                errors.NotFound(route);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                throw;
            }
            catch (Exception ex) when (ex is IOException or HttpRequestException or OperationCanceledException or TimeoutException)
            {
                errors.Failed(route, "error", ex);
                _set.ReportFailure(route, "error", ex);
            }
        }

        var error = errors.ToException($"blob {blob}", Registry);
        return error is BlobNotFoundException ? null : throw error;
    }

    /// <summary>A failure to write the spool: the caller's problem, not the host's, so it ends the read.</summary>
    private sealed class LocalWriteException(Exception inner) : Exception(inner.Message, inner);

    /// <summary>A streaming range: each read must bring bytes within the stall timeout; counts bytes to the host.</summary>
    private sealed class StallGuardedStream(Stream inner, MirrorSet set, MirrorRoute route, MirrorHost.Scope scope, CancellationTokenSource stall) : ReadOnlyStream
    {
        // The stall guard is a cancellation timer, so synchronous reads go through the asynchronous path.
        public override int Read(Span<byte> buffer)
        {
            byte[] rented = ArrayPool<byte>.Shared.Rent(buffer.Length);
            try
            {
                int n = ReadAsync(rented.AsMemory(0, buffer.Length)).AsTask().GetAwaiter().GetResult();
                rented.AsSpan(0, n).CopyTo(buffer);
                return n;
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(rented);
            }
        }

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, stall.Token);
            stall.CancelAfter(set.Options.StallTimeout);
            try
            {
                int n = await inner.ReadAsync(buffer, linked.Token).ConfigureAwait(false);
                stall.CancelAfter(Timeout.InfiniteTimeSpan);
                set.CountBytes(route, n);
                return n;
            }
            catch (Exception ex) when (!cancellationToken.IsCancellationRequested && ex is IOException or HttpRequestException or OperationCanceledException)
            {
                string reason = stall.IsCancellationRequested ? "stalled" : "error";
                set.ReportFailure(route, reason, ex);
                throw new IOException($"Range read from {route.SourceName} failed ({reason}): {ex.Message}", ex);
            }
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                inner.Dispose();
                scope.Dispose();
                stall.Dispose();
            }

            base.Dispose(disposing);
        }

        public override async ValueTask DisposeAsync()
        {
            await inner.DisposeAsync().ConfigureAwait(false);
            scope.Dispose();
            stall.Dispose();
            await base.DisposeAsync().ConfigureAwait(false);
        }
    }
}

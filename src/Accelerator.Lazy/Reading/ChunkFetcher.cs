using System.Buffers;
using Accelerator.Chunks.Caching;
using Accelerator.Lazy.Format;
using Accelerator.Lazy.Statistics;
using Microsoft.Extensions.Logging;

namespace Accelerator.Lazy.Reading;

/// <summary>
/// Gets chunks into the <see cref="ChunkCache"/>: claims the missing ones (so each is fetched once, however many
/// readers wait), merges claims adjacent in a data blob into one bounded ranged request, decodes and verifies every
/// chunk before it is stored, and completes or fails each claim — which releases the readers waiting on it.
/// </summary>
internal sealed partial class ChunkFetcher
{
    // A reader retries a chunk whose fetch it joined when that fetch was canceled by its owner (another reader's
    // interrupt, the prefetch stopping), or whose file vanished; more than this many times in a row is an error.
    internal const int MaxAttempts = 4;

    private readonly LazyBootstrap _bootstrap;
    private readonly IBlobSource _source;
    private readonly BlobAddress[] _blobs;
    private readonly ChunkCache _cache;
    private readonly LazyReaderOptions _options;
    private readonly LazyMountStatistics _statistics;
    private readonly FetchGate _gate;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;

    public ChunkFetcher(
        LazyBootstrap bootstrap, IBlobSource source, string repository, ChunkCache cache, LazyReaderOptions options, LazyMountStatistics statistics, ILogger logger, TimeProvider time)
    {
        _time = time;
        _bootstrap = bootstrap;
        _source = source;
        _blobs = [.. bootstrap.Blobs.Select(b => new BlobAddress(repository, b.Digest, b.Size))];
        _cache = cache;
        _options = options;
        _statistics = statistics;
        _gate = new FetchGate(options.MaxConcurrentFetches, options.MaxConcurrentPrefetches);
        _logger = logger;
    }

    public ChunkCache Cache => _cache;

    public ChunkRef GetChunkRef(int index) => CreateChunkRef(_bootstrap, index, _bootstrap.GetChunk(index));

    // The digest is made from the raw table bytes: the bootstrap's lazily cached Digest values are written without
    // synchronisation, and a torn copy of one (a value without its separator index) must never reach the cache.
    internal static ChunkRef CreateChunkRef(LazyBootstrap bootstrap, int index, LazyChunk chunk)
        => new(index, chunk.BlobIndex, chunk.CompressedOffset, chunk.CompressedSize, chunk.UncompressedSize, Digest.FromHash(Digest.Sha256, bootstrap.RawChunkDigest(index)));

    /// <summary>
    /// Gets the chunks a reader needs, in order, at foreground priority: ready ones from the cache, pending ones by
    /// awaiting their fetch, missing ones by fetching them (with read-ahead). Throws the fetch's error when one of them
    /// cannot be had (the source failed, or its bytes are not the chunk).
    /// </summary>
    public ValueTask<CachedChunk[]> GetAsync(ArraySegment<ChunkRef> chunks, CancellationToken cancellationToken)
    {
        // Warm reads complete here, without an async state machine.
        var result = new CachedChunk?[chunks.Count];
        var (claims, waits) = LookUp(chunks, result);
        return claims is null && waits is null
            ? ValueTask.FromResult<CachedChunk[]>(result!)
            : new ValueTask<CachedChunk[]>(GetMissingAsync(chunks, result, claims, waits, cancellationToken));
    }

    private async Task<CachedChunk[]> GetMissingAsync(
        ArraySegment<ChunkRef> chunks, CachedChunk?[] result, List<(int Slot, ChunkRef Chunk, ChunkCache.ChunkClaim Claim)>? claims,
        List<(int Slot, Task<CachedChunk> Task)>? waits, CancellationToken cancellationToken)
    {
        for (int attempt = 1; ; attempt++)
        {
            if (attempt > 1)
            {
                (claims, waits) = LookUp(chunks, result);
            }

            if (claims is not null)
            {
                await ProduceAsync([.. claims.Select(c => (c.Chunk, c.Claim))], background: false, cancellationToken).ConfigureAwait(false);
                foreach (var (slot, _, claim) in claims)
                {
                    result[slot] = await claim.Task.ConfigureAwait(false);
                }
            }

            bool retry = false;
            foreach (var (slot, task) in waits ?? [])
            {
                try
                {
                    result[slot] = await task.WaitAsync(cancellationToken).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                {
                    retry = true;
                }
            }

            if (!retry)
            {
                return result!;
            }

            if (attempt == MaxAttempts)
            {
                throw new IOException($"Chunks were canceled by other readers {MaxAttempts} times in a row.");
            }
        }
    }

    // Looks up every chunk not yet in the result: ready ones go in, pending ones are to await, missing ones are claimed.
    private (List<(int Slot, ChunkRef Chunk, ChunkCache.ChunkClaim Claim)>? Claims, List<(int Slot, Task<CachedChunk> Task)>? Waits) LookUp(
        ArraySegment<ChunkRef> chunks, CachedChunk?[] result)
    {
        List<(int Slot, ChunkRef Chunk, ChunkCache.ChunkClaim Claim)>? claims = null;
        List<(int Slot, Task<CachedChunk> Task)>? waits = null;
        for (int i = 0; i < chunks.Count; i++)
        {
            if (result[i] is not null)
            {
                continue;
            }

            ChunkRef chunk = chunks[i];
            ChunkLookup lookup = _cache.Lookup(chunk.Digest, chunk.Size);
            if (lookup.Ready is { } ready)
            {
                _statistics.AddHit();
                result[i] = ready;
            }
            else if (lookup.Pending is { } pending)
            {
                _statistics.AddMiss();
                _statistics.AddJoined();
                (waits ??= []).Add((i, pending));
            }
            else
            {
                _statistics.AddMiss();
                (claims ??= []).Add((i, chunk, lookup.Claim!));
            }
        }

        return (claims, waits);
    }

    /// <summary>
    /// Prefetches chunks at background priority: holds one background slot, claims the chunks nobody has (a file left
    /// on disk by an earlier run is verified instead of fetched), and fetches them in merged requests one after another.
    /// A chunk that cannot be fetched is logged, counted and left absent. Returns the chunks fetched.
    /// </summary>
    public async Task<int> PrefetchAsync(IReadOnlyList<ChunkRef> chunks, CancellationToken cancellationToken)
    {
        using FetchGate.Slot slot = await _gate.EnterAsync(background: true, cancellationToken).ConfigureAwait(false);
        var claims = new List<(ChunkRef Chunk, ChunkCache.ChunkClaim Claim)>();
        foreach (ChunkRef chunk in chunks)
        {
            if (_cache.TryClaim(chunk.Digest, chunk.Size, includeUnverified: true) is { } claim)
            {
                claims.Add((chunk, claim));
            }
        }

        await ProduceAsync(claims, background: true, cancellationToken).ConfigureAwait(false);
        int fetched = 0;
        foreach (var (_, claim) in claims)
        {
            if (claim.Task.IsCompletedSuccessfully)
            {
                fetched++;
            }
        }

        cancellationToken.ThrowIfCancellationRequested();
        return fetched;
    }

    // Completes or fails every claim: from disk when a verified file is there, else fetched. Never throws.
    private async Task ProduceAsync(List<(ChunkRef Chunk, ChunkCache.ChunkClaim Claim)> claims, bool background, CancellationToken cancellationToken)
    {
        var missing = new List<(ChunkRef Chunk, ChunkCache.ChunkClaim Claim)>(claims.Count);
        try
        {
            foreach (var (chunk, claim) in claims)
            {
                if (claim.TryLoadFromDisk())
                {
                    if (!background)
                    {
                        _statistics.AddFromDisk();
                    }
                }
                else
                {
                    missing.Add((chunk, claim));
                }
            }

            if (missing.Count == 0)
            {
                return;
            }

            List<FetchRun> runs = Plan(missing);
            if (background)
            {
                foreach (FetchRun run in runs)
                {
                    await FetchAsync(run, background: true, cancellationToken).ConfigureAwait(false);
                }
            }
            else
            {
                if (_options.ReadAheadBytes > 0)
                {
                    foreach (FetchRun run in runs)
                    {
                        ExtendForReadAhead(run);
                    }
                }

                await Task.WhenAll(runs.Select(run => FetchAsync(run, background: false, cancellationToken))).ConfigureAwait(false);
            }
        }
        catch (Exception ex)
        {
            foreach (var (_, claim) in claims)
            {
                if (!claim.IsCompleted)
                {
                    claim.Fail(ex);
                }
            }
        }
    }

    // Sorts the chunks by blob and offset and merges neighbours — at most MergeGapBytes apart, at most MaxRequestBytes
    // in all — into runs, each fetched with one ranged request.
    private List<FetchRun> Plan(List<(ChunkRef Chunk, ChunkCache.ChunkClaim Claim)> missing)
    {
        missing.Sort((a, b) => a.Chunk.Blob != b.Chunk.Blob ? a.Chunk.Blob.CompareTo(b.Chunk.Blob) : a.Chunk.Offset.CompareTo(b.Chunk.Offset));
        var runs = new List<FetchRun>();
        FetchRun? current = null;
        foreach (var (chunk, claim) in missing)
        {
            if (current is null
                || chunk.Blob != current.Blob
                || chunk.Offset - current.End > _options.MergeGapBytes
                || chunk.End - current.Start > _options.MaxRequestBytes)
            {
                current = new FetchRun(chunk.Blob, chunk.Offset);
                runs.Add(current);
            }

            current.Add(chunk, claim, readAhead: false);
        }

        return runs;
    }

    // Small requests take along the missing chunks that follow them in the blob, up to ReadAheadBytes in all: the
    // converter packs a directory's files next to each other, so neighbours are likely read next.
    private void ExtendForReadAhead(FetchRun run)
    {
        if (run.Length >= _options.ReadAheadBytes)
        {
            return;
        }

        for (int index = run.Items[^1].Chunk.Index + 1; index < _bootstrap.ChunkCount; index++)
        {
            ChunkRef next = GetChunkRef(index);
            if (next.Blob != run.Blob || next.Offset - run.End > _options.MergeGapBytes || next.End - run.Start > _options.ReadAheadBytes)
            {
                return;
            }

            // Ready, pending or waiting on disk: stop, the rest is likely there too.
            if (_cache.TryClaim(next.Digest, next.Size, includeUnverified: false) is not { } claim)
            {
                return;
            }

            _statistics.AddReadAhead();
            run.Add(next, claim, readAhead: true);
        }
    }

    // One ranged request for a run, then each chunk decoded, verified and stored. Never throws: a failure fails the
    // claims it concerns (all of them when the request fails, one when its bytes are not the chunk).
    private async Task FetchAsync(FetchRun run, bool background, CancellationToken cancellationToken)
    {
        int length = checked((int)run.Length);
        byte[] buffer = ArrayPool<byte>.Shared.Rent(length);
        try
        {
            int received;
            try
            {
                received = await ReadRangeAsync(run, buffer.AsMemory(0, length), background, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                if (ex is not OperationCanceledException)
                {
                    LogFetchFailed(_blobs[run.Blob].ToString(), run.Start, length, ex.Message);
                }

                foreach (var (_, claim, _) in run.Items)
                {
                    Failed(claim, ex, background);
                }

                return;
            }

            foreach (var (chunk, claim, readAhead) in run.Items)
            {
                Store(run, chunk, claim, buffer, received, background);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    // One ranged request into the buffer, within a request slot and the request timeout; returns the bytes received
    // (fewer than asked only when the blob ends early).
    private async Task<int> ReadRangeAsync(FetchRun run, Memory<byte> buffer, bool background, CancellationToken cancellationToken)
    {
        // A background run already holds its slot (taken before its chunks were claimed).
        using FetchGate.Slot slot = background ? default : await _gate.EnterAsync(background: false, cancellationToken).ConfigureAwait(false);
        using var timeout = _options.RequestTimeout == Timeout.InfiniteTimeSpan ? null : new CancellationTokenSource(_options.RequestTimeout, _time);
        using var linked = timeout is null ? null : CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
        CancellationToken token = linked?.Token ?? cancellationToken;
        _statistics.AddRequest(buffer.Length);
        try
        {
            Stream stream = await _source.OpenRangeAsync(_blobs[run.Blob], run.Start, buffer.Length, token).ConfigureAwait(false);
            await using (stream.ConfigureAwait(false))
            {
                return await ReadFullyAsync(stream, buffer, token).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (timeout?.IsCancellationRequested == true && !cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException($"The ranged read of {_blobs[run.Blob]} at {run.Start}+{buffer.Length} got no answer within {_options.RequestTimeout}: the registry (or mirror) is unreachable or does not answer.");
        }
    }

    private void Store(FetchRun run, ChunkRef chunk, ChunkCache.ChunkClaim claim, byte[] buffer, int received, bool background)
    {
        int start = (int)(chunk.Offset - run.Start);
        if (start + chunk.StoredSize > received)
        {
            var ended = new InvalidDataException($"Data blob {_blobs[run.Blob].Digest} ended at {run.Start + received} bytes, inside chunk {chunk.Digest} ({chunk.Offset}+{chunk.StoredSize}).");
            _statistics.AddChunkError();
            LogChunkInvalid(chunk.Digest.ToString(), _blobs[run.Blob].ToString(), ended.Message);
            Failed(claim, ended, background);
            return;
        }

        byte[] data = ArrayPool<byte>.Shared.Rent(chunk.Size);
        try
        {
            LazyChunkCodec.Decode(buffer.AsSpan(start, chunk.StoredSize), chunk.ToLocation(_blobs[run.Blob].Digest), data);
        }
        catch (Exception ex) when (ex is InvalidDataException or DigestMismatchException)
        {
            ArrayPool<byte>.Shared.Return(data);
            _statistics.AddChunkError();
            LogChunkInvalid(chunk.Digest.ToString(), _blobs[run.Blob].ToString(), ex.Message);
            Failed(claim, ex, background);
            return;
        }

        try
        {
            claim.Complete(data.AsSpan(0, chunk.Size));
            _statistics.Mount.AddChunks(1);
            if (background)
            {
                _statistics.AddPrefetched(chunk.StoredSize);
            }
        }
        catch (Exception ex)
        {
            Failed(claim, ex, background);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(data);
        }
    }

    private void Failed(ChunkCache.ChunkClaim claim, Exception error, bool background)
    {
        if (background && error is not OperationCanceledException)
        {
            _statistics.AddPrefetchError();
        }

        claim.Fail(error);
    }

    private static async ValueTask<int> ReadFullyAsync(Stream stream, Memory<byte> buffer, CancellationToken cancellationToken)
    {
        int total = 0;
        while (total < buffer.Length)
        {
            int n = await stream.ReadAsync(buffer[total..], cancellationToken).ConfigureAwait(false);
            if (n == 0)
            {
                break;
            }

            total += n;
        }

        return total;
    }

    /// <summary>Chunks of one data blob fetched with one ranged request.</summary>
    private sealed class FetchRun(int blob, long start)
    {
        public int Blob { get; } = blob;

        public long Start { get; } = start;

        public long End { get; private set; } = start;

        public long Length => End - Start;

        public List<(ChunkRef Chunk, ChunkCache.ChunkClaim Claim, bool ReadAhead)> Items { get; } = [];

        public void Add(ChunkRef chunk, ChunkCache.ChunkClaim claim, bool readAhead)
        {
            Items.Add((chunk, claim, readAhead));
            End = Math.Max(End, chunk.End);
        }
    }
}

using System.Buffers;
using Accelerator.Block.Format;
using Accelerator.Block.Layers;
using Accelerator.Chunks.Caching;

namespace Accelerator.Block.Caching;

/// <summary>
/// Gets stored blocks into the <see cref="ChunkCache"/>: claims the missing ones (so each is fetched once, however many
/// readers wait), merges claims adjacent in a data blob into one bounded ranged read, decodes and verifies every block
/// before it is cached, and completes or fails each claim. Every failure reaches the reader as an
/// <see cref="IOException"/>; no byte is served unverified and no failure is turned into zeros.
/// </summary>
internal sealed class BlockFetcher
{
    internal const int MaxAttempts = 4;

    private readonly BlockIndex _index;
    private readonly IBlobSource _source;
    private readonly BlobAddress[] _blobs;
    private readonly Digest[] _digests;
    private readonly ChunkCache _cache;
    private readonly BlockStackOptions _options;
    private readonly BlockStackStatistics _statistics;
    private readonly SemaphoreSlim _requests;
    private readonly TimeProvider _time;

    public BlockFetcher(BlockIndex index, IBlobSource source, string repository, ChunkCache cache, BlockStackOptions options, BlockStackStatistics statistics, TimeProvider time)
    {
        _index = index;
        _source = source;
        _blobs = [.. index.Blobs.Select(b => new BlobAddress(repository, b.Digest, b.Size))];
        _digests = new Digest[index.StoredBlockCount];
        for (int i = 0; i < _digests.Length; i++)
        {
            _digests[i] = Digest.FromHash(Digest.Sha256, index.RawDigest(i));
        }

        _cache = cache;
        _options = options;
        _statistics = statistics;
        _requests = new SemaphoreSlim(options.MaxConcurrentFetches);
        _time = time;
    }

    public ChunkCache Cache => _cache;

    public Digest GetDigest(int stored) => _digests[stored];

    /// <summary>Looks a block up: ready, pending, or claimed by the caller (who must pass the lookup to <see cref="GetAsync"/>).</summary>
    public ChunkLookup Lookup(int stored)
    {
        ChunkLookup lookup = _cache.Lookup(_digests[stored], _index.BlockSize);
        if (lookup.Ready is not null)
        {
            _statistics.AddHit();
        }
        else if (lookup.Pending is not null)
        {
            _statistics.AddJoined();
        }

        return lookup;
    }

    /// <summary>Gets the stored blocks (distinct indexes), fetching the missing ones; throws <see cref="IOException"/> when one cannot be had.</summary>
    /// <param name="stored">The stored blocks wanted.</param>
    /// <param name="initial">Lookups the caller already made for some of them (claims among them are produced here).</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    public async Task<Dictionary<int, CachedChunk>> GetAsync(IReadOnlyCollection<int> stored, IReadOnlyDictionary<int, ChunkLookup>? initial, CancellationToken cancellationToken)
    {
        var result = new Dictionary<int, CachedChunk>(stored.Count);
        for (int attempt = 1; ; attempt++)
        {
            var claims = new List<(int Stored, ChunkCache.ChunkClaim Claim)>();
            var waits = new List<(int Stored, Task<CachedChunk> Task)>();
            foreach (int s in stored)
            {
                if (result.ContainsKey(s))
                {
                    continue;
                }

                ChunkLookup lookup = attempt == 1 && initial is not null && initial.TryGetValue(s, out ChunkLookup known) ? known : Lookup(s);
                if (lookup.Ready is { } ready)
                {
                    result[s] = ready;
                }
                else if (lookup.Pending is { } pending)
                {
                    waits.Add((s, pending));
                }
                else
                {
                    claims.Add((s, lookup.Claim!));
                }
            }

            if (claims.Count > 0)
            {
                await ProduceAsync(claims, cancellationToken).ConfigureAwait(false);
                foreach (var (s, claim) in claims)
                {
                    waits.Add((s, claim.Task));
                }
            }

            bool retry = false;
            foreach (var (s, task) in waits)
            {
                try
                {
                    result[s] = await task.WaitAsync(cancellationToken).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                {
                    retry = true;
                }
                catch (Exception ex) when (ex is not IOException and not OperationCanceledException)
                {
                    throw new IOException($"Block {_digests[s]} could not be read: {ex.Message}", ex);
                }
            }

            if (!retry)
            {
                return result;
            }

            if (attempt == MaxAttempts)
            {
                throw new IOException($"Blocks were canceled by other readers {MaxAttempts} times in a row.");
            }
        }
    }

    /// <summary>
    /// Fetches stored blocks in the background: claims those nobody has (a file left on disk is verified instead of
    /// fetched) and fetches them. Failures are counted and left absent. Returns the blocks made ready.
    /// </summary>
    public async Task<int> PrefetchAsync(IReadOnlyList<int> stored, CancellationToken cancellationToken)
    {
        var claims = new List<(int Stored, ChunkCache.ChunkClaim Claim)>();
        foreach (int s in stored)
        {
            if (_cache.TryClaim(_digests[s], _index.BlockSize, includeUnverified: true) is { } claim)
            {
                claims.Add((s, claim));
            }
        }

        await ProduceAsync(claims, cancellationToken).ConfigureAwait(false);
        int done = claims.Count(c => c.Claim.Task.IsCompletedSuccessfully);
        _statistics.AddPrefetched(done);
        cancellationToken.ThrowIfCancellationRequested();
        return done;
    }

    // Completes or fails every claim: from a verified file on disk, else fetched in merged runs. Never throws.
    private async Task ProduceAsync(List<(int Stored, ChunkCache.ChunkClaim Claim)> claims, CancellationToken cancellationToken)
    {
        try
        {
            var missing = new List<(int Stored, ChunkCache.ChunkClaim Claim)>(claims.Count);
            foreach (var item in claims)
            {
                if (!item.Claim.TryLoadFromDisk())
                {
                    missing.Add(item);
                }
            }

            missing.Sort((a, b) =>
            {
                StoredBlock x = _index.GetStoredBlock(a.Stored), y = _index.GetStoredBlock(b.Stored);
                return x.Blob != y.Blob ? x.Blob.CompareTo(y.Blob) : x.CompressedOffset.CompareTo(y.CompressedOffset);
            });
            var runs = new List<List<(int Stored, ChunkCache.ChunkClaim Claim)>>();
            long runStart = 0, runEnd = 0;
            int runBlob = -1;
            foreach (var item in missing)
            {
                StoredBlock block = _index.GetStoredBlock(item.Stored);
                long end = block.CompressedOffset + block.CompressedLength;
                if (runs.Count == 0 || block.Blob != runBlob || block.CompressedOffset - runEnd > _options.MergeGapBytes || end - runStart > _options.MaxRequestBytes)
                {
                    runs.Add([]);
                    runBlob = block.Blob;
                    runStart = block.CompressedOffset;
                    runEnd = end;
                }

                runs[^1].Add(item);
                runEnd = Math.Max(runEnd, end);
            }

            await Task.WhenAll(runs.Select(run => FetchAsync(run, cancellationToken))).ConfigureAwait(false);
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

    // One ranged read for a run, then each block decoded, verified and cached. Never throws.
    private async Task FetchAsync(List<(int Stored, ChunkCache.ChunkClaim Claim)> run, CancellationToken cancellationToken)
    {
        StoredBlock first = _index.GetStoredBlock(run[0].Stored);
        long start = first.CompressedOffset;
        long end = run.Max(r => _index.GetStoredBlock(r.Stored) is var b ? b.CompressedOffset + b.CompressedLength : 0);
        int length = checked((int)(end - start));
        BlobAddress blob = _blobs[first.Blob];
        byte[] buffer = ArrayPool<byte>.Shared.Rent(length);
        try
        {
            int received;
            try
            {
                received = await ReadRangeAsync(blob, start, buffer.AsMemory(0, length), cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                Exception error = ex is OperationCanceledException or IOException
                    ? ex
                    : new IOException($"Reading {blob} at {start}+{length} failed: {ex.Message}", ex);
                if (ex is not OperationCanceledException)
                {
                    _statistics.AddError();
                }

                foreach (var (_, claim) in run)
                {
                    claim.Fail(error);
                }

                return;
            }

            // Blocks of a run are decoded, verified and cached in parallel: at 64 KiB that work, not the request, is
            // what bounds a cold sequential read.
            Parallel.ForEach(
                run,
                new ParallelOptions { MaxDegreeOfParallelism = run.Count < 4 ? 1 : Environment.ProcessorCount },
                item => Complete(item.Stored, item.Claim, buffer, start, received, blob));
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    // Decodes, verifies and caches one block of a run's bytes; fails its claim when it cannot.
    private void Complete(int stored, ChunkCache.ChunkClaim claim, byte[] buffer, long start, int received, BlobAddress blob)
    {
        StoredBlock block = _index.GetStoredBlock(stored);
        int offset = (int)(block.CompressedOffset - start);
        byte[] data = ArrayPool<byte>.Shared.Rent(_index.BlockSize);
        try
        {
            if (offset + block.CompressedLength > received)
            {
                throw new IOException($"Data blob {blob.Digest} ended at {start + received} bytes, inside block {_digests[stored]}.");
            }

            BlockCodec.Decode(buffer.AsSpan(offset, block.CompressedLength), block with { Digest = _digests[stored] }, data);
            claim.Complete(data.AsSpan(0, block.UncompressedLength));
            _statistics.AddFetched(block.CompressedLength);
        }
        catch (Exception ex)
        {
            _statistics.AddError();
            claim.Fail(ex is IOException ? ex : new IOException($"Block {_digests[stored]} from {blob.Digest} is invalid: {ex.Message}", ex));
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(data);
        }
    }

    private async Task<int> ReadRangeAsync(BlobAddress blob, long offset, Memory<byte> buffer, CancellationToken cancellationToken)
    {
        await _requests.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            using var timeout = new CancellationTokenSource(_options.RequestTimeout, _time);
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
            _statistics.AddRequest(buffer.Length);
            try
            {
                Stream stream = await _source.OpenRangeAsync(blob, offset, buffer.Length, linked.Token).ConfigureAwait(false);
                await using (stream.ConfigureAwait(false))
                {
                    return await stream.ReadAtLeastAsync(buffer, buffer.Length, throwOnEndOfStream: false, linked.Token).ConfigureAwait(false);
                }
            }
            catch (OperationCanceledException) when (timeout.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
            {
                throw new TimeoutException($"The ranged read of {blob} at {offset}+{buffer.Length} got no answer within {_options.RequestTimeout}: the registry (or mirror) is unreachable or does not answer.");
            }
        }
        finally
        {
            _requests.Release();
        }
    }
}

using Accelerator.Block.Caching;
using Accelerator.Block.Format;
using Accelerator.Chunks.Caching;
using Accelerator.Oci.Validation;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Accelerator.Block.Layers;

/// <summary>
/// A read-only virtual disk over a block image's stack of layers: each block reads as the topmost layer's extent that
/// covers it (zeros where none does), fetched on demand through an <see cref="IBlobSource"/> (the mirror and P2P chain)
/// into a local cache of verified blocks. Concurrent reads of one missing block fetch it once; adjacent missing blocks
/// are fetched with one ranged read. A block that cannot be fetched or does not match its digest fails the read with
/// an <see cref="IOException"/> — never zeros. When the index carries a prefetch trace, opening the stack replays it in
/// the background.
/// </summary>
public sealed partial class BlockLayerStack : IVirtualDisk
{
    private readonly int[] _map;
    private readonly BlockFetcher _fetcher;
    private readonly ChunkCache _cache;
    private readonly CancellationTokenSource _stopping = new();
    private readonly ILogger _logger;

    // Blocks known ready, by stored block: a warm read skips the cache's lookup (a lock and an LRU update). Only kept
    // when the cache has no size bound, where the LRU order does not matter; a file that vanished is dropped here too.
    private readonly CachedChunk?[]? _ready;
    private int _disposed;

    private BlockLayerStack(BlockIndex index, IBlobSource source, string repository, ChunkCache cache, BlockStackOptions options, ILogger logger, TimeProvider time)
    {
        Index = index;
        Options = options;
        _cache = cache;
        _logger = logger;
        _map = index.Flatten();
        _ready = options.MaxCacheBytes == 0 ? new CachedChunk?[index.StoredBlockCount] : null;
        _fetcher = new BlockFetcher(index, source, repository, cache, options, Statistics, time);
    }

    /// <summary>The index the stack was opened from.</summary>
    public BlockIndex Index { get; }

    /// <summary>The options.</summary>
    public BlockStackOptions Options { get; }

    /// <summary>Read and fetch counters.</summary>
    public BlockStackStatistics Statistics { get; } = new();

    /// <summary>The background replay of the index's prefetch trace (completed when there is none).</summary>
    public Task PrefetchCompletion { get; private set; } = Task.CompletedTask;

    /// <inheritdoc />
    public long Size => Index.DiskSize;

    /// <inheritdoc />
    public bool IsReadOnly => true;

    /// <inheritdoc />
    public int BlockSize => Index.BlockSize;

    /// <summary>
    /// Opens a stack: flattens the layers into a block map, opens the cache and, unless disabled, starts replaying the
    /// index's prefetch trace in the background.
    /// </summary>
    /// <param name="index">The image's index.</param>
    /// <param name="source">Where the data blobs are read (ranged reads).</param>
    /// <param name="repository">The repository the blobs live in.</param>
    /// <param name="options">Cache directory and fetch limits.</param>
    /// <param name="logger">Where to log; none when null.</param>
    /// <param name="timeProvider">The clock for request timeouts; the system clock when null.</param>
    public static BlockLayerStack Open(
        BlockIndex index, IBlobSource source, string repository, BlockStackOptions options, ILogger<BlockLayerStack>? logger = null, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(index);
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(repository);
        ArgumentNullException.ThrowIfNull(options);
        new BlockStackOptionsValidator().ThrowIfOutOfRange(options, "block stack");
        var cache = ChunkCache.Open(new ChunkCacheOptions
        {
            Directory = options.CacheDirectory,
            MaxCacheBytes = options.MaxCacheBytes,
            MaxOpenFiles = options.MaxOpenCacheFiles,
        }, timeProvider: timeProvider);
        var stack = new BlockLayerStack(index, source, repository, cache, options, logger ?? (ILogger)NullLogger.Instance, timeProvider ?? TimeProvider.System);
        if (options.PrefetchOnOpen && index.Prefetch.Count > 0)
        {
            stack.PrefetchCompletion = stack.RunPrefetchAsync(index.Prefetch);
        }

        return stack;
    }

    /// <summary>The stored block <paramref name="block"/> reads as, or -1 for zeros.</summary>
    internal int StoredBlockAt(long block) => _map[block];

    /// <inheritdoc />
    public ValueTask ReadAsync(long offset, Memory<byte> destination, CancellationToken cancellationToken = default)
    {
        DiskRange.Check(offset, destination.Length, Size);
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        Statistics.AddRead(destination.Length);
        if (destination.IsEmpty)
        {
            return default;
        }

        Dictionary<int, ChunkLookup>? missing = null;
        try
        {
            int bs = BlockSize;
            long position = offset;
            int done = 0;
            while (done < destination.Length)
            {
                long block = position / bs;
                int within = (int)(position % bs);
                int count = Math.Min(bs - within, destination.Length - done);
                Span<byte> piece = destination.Span.Slice(done, count);
                int stored = _map[block];
                if (stored < 0)
                {
                    piece.Clear();
                }
                else if (_ready is not null && Volatile.Read(ref _ready[stored]) is { } known && TryCopy(known, within, piece))
                {
                    // Served from the cache.
                }
                else if (missing is null || !missing.ContainsKey(stored))
                {
                    ChunkLookup lookup = _fetcher.Lookup(stored);
                    if (lookup.Ready is { } ready && TryCopy(ready, within, piece))
                    {
                        Remember(stored, ready);
                    }
                    else
                    {
                        (missing ??= [])[stored] = lookup.Ready is null ? lookup : default;
                    }
                }

                done += count;
                position += count;
            }
        }
        catch (Exception ex)
        {
            FailClaims(missing, ex);
            throw;
        }

        return missing is null ? default : new ValueTask(ReadMissingAsync(offset, destination, missing, cancellationToken));
    }

    // Reads the blocks that were not ready: fetches or awaits them, then copies (retrying a block whose file vanished).
    private async Task ReadMissingAsync(long offset, Memory<byte> destination, Dictionary<int, ChunkLookup> missing, CancellationToken cancellationToken)
    {
        var initial = missing.Where(m => m.Value != default).ToDictionary(m => m.Key, m => m.Value);
        var wanted = new HashSet<int>(missing.Keys);
        for (int attempt = 1; wanted.Count > 0; attempt++)
        {
            Dictionary<int, CachedChunk> chunks = await _fetcher.GetAsync(wanted, attempt == 1 ? initial : null, cancellationToken).ConfigureAwait(false);
            var vanished = new HashSet<int>();
            int bs = BlockSize;
            long position = offset;
            int done = 0;
            while (done < destination.Length)
            {
                long block = position / bs;
                int within = (int)(position % bs);
                int count = Math.Min(bs - within, destination.Length - done);
                int stored = _map[block];
                if (stored >= 0 && wanted.Contains(stored))
                {
                    if (TryCopy(chunks[stored], within, destination.Span.Slice(done, count)))
                    {
                        Remember(stored, chunks[stored]);
                    }
                    else
                    {
                        vanished.Add(stored);
                    }
                }

                done += count;
                position += count;
            }

            if (vanished.Count > 0 && attempt == BlockFetcher.MaxAttempts)
            {
                throw new IOException($"Cached blocks vanished {attempt} times in a row while being read.");
            }

            wanted = vanished;
        }
    }

    private void Remember(int stored, CachedChunk chunk)
    {
        if (_ready is not null)
        {
            Volatile.Write(ref _ready[stored], chunk);
        }
    }

    // Copies from a cached block; false when its file vanished (it is then dropped from the cache, to be fetched again).
    private bool TryCopy(CachedChunk chunk, int within, Span<byte> destination)
    {
        try
        {
            chunk.Read(within, destination);
            return true;
        }
        catch (ChunkVanishedException)
        {
            if (_ready is not null)
            {
                foreach (int stored in StoredBlocksOf(chunk))
                {
                    Interlocked.CompareExchange(ref _ready[stored], null, chunk);
                }
            }

            _cache.Invalidate(chunk);
            return false;
        }
    }

    // The stored blocks a cached file may be remembered for (one, unless the table lists a digest twice).
    private IEnumerable<int> StoredBlocksOf(CachedChunk chunk)
    {
        for (int i = 0; i < _ready!.Length; i++)
        {
            if (ReferenceEquals(Volatile.Read(ref _ready[i]), chunk))
            {
                yield return i;
            }
        }
    }

    private static void FailClaims(Dictionary<int, ChunkLookup>? lookups, Exception error)
    {
        foreach (ChunkLookup lookup in lookups?.Values ?? Enumerable.Empty<ChunkLookup>())
        {
            lookup.Claim?.Fail(error);
        }
    }

    /// <summary>
    /// Fetches the given blocks into the cache in the background order given (zero blocks and blocks already cached
    /// are skipped; each stored block once), with <see cref="BlockStackOptions.MaxConcurrentPrefetches"/> workers.
    /// Blocks that cannot be fetched are counted in <see cref="BlockStackStatistics.Errors"/> and skipped.
    /// </summary>
    public async Task PrefetchAsync(IEnumerable<long> blocks, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(blocks);
        var seen = new HashSet<int>();
        var order = new List<int>();
        foreach (long block in blocks)
        {
            if (block >= 0 && block < Index.BlockCount && _map[block] is var stored and >= 0 && seen.Add(stored))
            {
                order.Add(stored);
            }
        }

        int perBatch = Math.Max(1, Options.MaxRequestBytes / BlockSize);
        int next = 0;
        var sync = new object();
        async Task WorkAsync()
        {
            while (true)
            {
                List<int> batch;
                lock (sync)
                {
                    if (next >= order.Count)
                    {
                        return;
                    }

                    batch = order.GetRange(next, Math.Min(perBatch, order.Count - next));
                    next += batch.Count;
                }

                batch.RemoveAll(s => _cache.Contains(_fetcher.GetDigest(s)));
                if (batch.Count > 0)
                {
                    await _fetcher.PrefetchAsync(batch, cancellationToken).ConfigureAwait(false);
                }
            }
        }

        await Task.WhenAll(Enumerable.Range(0, Options.MaxConcurrentPrefetches).Select(_ => Task.Run(WorkAsync, cancellationToken))).ConfigureAwait(false);
    }

    private async Task RunPrefetchAsync(IReadOnlyList<long> blocks)
    {
        await Task.Yield();
        try
        {
            await PrefetchAsync(blocks, _stopping.Token).ConfigureAwait(false);
            LogPrefetchCompleted(blocks.Count, Statistics.PrefetchedBlocks);
        }
        catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
        {
        }
        catch (Exception ex)
        {
            LogPrefetchFailed(ex.Message);
        }
    }

    /// <inheritdoc />
    public ValueTask WriteAsync(long offset, ReadOnlyMemory<byte> source, CancellationToken cancellationToken = default)
        => throw new NotSupportedException("The block image stack is read-only; write through a copy-on-write layer.");

    /// <inheritdoc />
    public ValueTask FlushAsync(CancellationToken cancellationToken = default) => default;

    /// <inheritdoc />
    public ValueTask TrimAsync(long offset, long length, CancellationToken cancellationToken = default)
        => throw new NotSupportedException("The block image stack is read-only; trim through a copy-on-write layer.");

    /// <inheritdoc />
    public ValueTask WriteZeroesAsync(long offset, long length, CancellationToken cancellationToken = default)
        => throw new NotSupportedException("The block image stack is read-only; write through a copy-on-write layer.");

    /// <summary>Stops the prefetch and closes the cache (its files stay for the next open).</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await _stopping.CancelAsync().ConfigureAwait(false);
        await PrefetchCompletion.ConfigureAwait(false);
        _cache.Dispose();
        _stopping.Dispose();
    }
}

using Accelerator.Oci.Validation;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Accelerator.Chunks.Caching;

/// <summary>
/// A local, content-addressed cache of verified, uncompressed chunks on disk: one file per chunk, named by its sha256,
/// so a chunk shared by several files or images is stored once. Each chunk is absent, pending (one fetch under way,
/// which every other reader of the chunk awaits) or ready (its file verified). Files survive restarts: they are written
/// under a temporary name and renamed into place, and a file found on disk is verified against its digest on its first
/// use by an instance before a byte of it is served; a torn or damaged file is deleted and the chunk fetched again.
/// With <see cref="ChunkCacheOptions.MaxCacheBytes"/>, the least recently used chunks are deleted to keep the bound.
/// </summary>
/// <remarks>
/// Thread-safe. Readers (the lazy file reader, the block fetcher) look chunks up and fetch the missing ones; the cache
/// itself never fetches. Chunks are stored uncompressed: a warm read is one <c>pread</c> of the bytes asked
/// for, with no decompression and no need to read the whole chunk, at the cost of more disk space than the
/// compressed form (zstd level 3 typically halves text and leaves binaries larger than that).
/// </remarks>
public sealed partial class ChunkCache : IDisposable
{
    /// <summary>The subdirectory holding chunk files, by algorithm and first two hex digits: <c>chunks-v1/sha256/ab/abcd…</c>.</summary>
    internal const string ChunksDirectoryName = "chunks-v1";

    /// <summary>The subdirectory for files being written.</summary>
    internal const string TemporaryDirectoryName = "tmp";

    /// <summary>
    /// The largest chunk the cache holds: 16 MiB, the lazy format's largest chunk (a block image's blocks are at most
    /// 1 MiB). Larger files in the directory are not chunks and are deleted when the cache opens.
    /// </summary>
    public const int MaxChunkSize = 16 << 20;

    private readonly object _sync = new();
    private readonly Dictionary<Digest, Entry> _entries = [];

    // On-disk entries (ready or not yet verified), least recently used first. Pending entries are not in it.
    private readonly LinkedList<Entry> _lru = new();
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly OpenChunkFiles _handles;
    private long _bytes;
    private long _hits;
    private long _waits;
    private long _misses;
    private long _loadedFromDisk;
    private long _stored;
    private long _corrupt;
    private long _evictions;
    private long _evictedBytes;
    private long _storeFailures;
    private bool _disposed;

    private ChunkCache(ChunkCacheOptions options, ILogger logger, TimeProvider time)
    {
        Options = options;
        _logger = logger;
        _time = time;
        _handles = new OpenChunkFiles(options.MaxOpenFiles);
        Directory = Path.GetFullPath(options.Directory);
        ChunksDirectory = Path.Combine(Directory, ChunksDirectoryName, Digest.Sha256);
        TemporaryDirectory = Path.Combine(Directory, TemporaryDirectoryName);
    }

    /// <summary>The cache directory (full path).</summary>
    public string Directory { get; }

    /// <summary>The options the cache was opened with.</summary>
    public ChunkCacheOptions Options { get; }

    internal string ChunksDirectory { get; }

    internal string TemporaryDirectory { get; }

    /// <summary>
    /// Opens (creating when missing) the cache in <see cref="ChunkCacheOptions.Directory"/>: learns the chunk files
    /// already there (least recently written first in the eviction order; each is verified on its first use), deletes
    /// stale temporary files, and evicts down to the size bound.
    /// </summary>
    /// <param name="options">The directory and limits.</param>
    /// <param name="logger">Where to log; none when null.</param>
    /// <param name="timeProvider">The clock, for the age of temporary files; the system clock when null.</param>
    public static ChunkCache Open(ChunkCacheOptions options, ILogger<ChunkCache>? logger = null, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        new ChunkCacheOptionsValidator().ThrowIfOutOfRange(options, "chunk cache");
        var cache = new ChunkCache(options, logger ?? (ILogger)NullLogger.Instance, timeProvider ?? TimeProvider.System);
        cache.Initialize();
        return cache;
    }

    /// <summary>The cache's counters now.</summary>
    public ChunkCacheStatistics GetStatistics()
    {
        lock (_sync)
        {
            return new ChunkCacheStatistics(
                _hits, _waits, _misses, _loadedFromDisk, _stored, _corrupt, _evictions, _evictedBytes, _storeFailures, _lru.Count, _bytes);
        }
    }

    /// <summary>
    /// Whether the cache holds a file for <paramref name="chunk"/> (verified, or on disk from an earlier run and not yet
    /// verified). A pending chunk is not held yet.
    /// </summary>
    public bool Contains(Digest chunk)
    {
        lock (_sync)
        {
            return _entries.TryGetValue(chunk, out Entry? entry) && entry.State != EntryState.Pending;
        }
    }

    /// <summary>The path of the file that holds (or would hold) <paramref name="chunk"/>.</summary>
    public string GetChunkPath(Digest chunk)
    {
        if (chunk.IsEmpty || chunk.Algorithm != Digest.Sha256)
        {
            throw new ArgumentException("Chunks are addressed by sha256 digests.", nameof(chunk));
        }

        string hex = chunk.Encoded;
        return Path.Combine(ChunksDirectory, hex[..2], hex);
    }

    /// <summary>Forgets what the cache knows in memory; files stay on disk for the next instance.</summary>
    public void Dispose()
    {
        lock (_sync)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            foreach (Entry entry in _entries.Values)
            {
                entry.Pending?.TrySetException(new ObjectDisposedException(nameof(ChunkCache)));
            }

            foreach (Entry entry in _entries.Values)
            {
                entry.Chunk?.CloseHandle();
            }

            _entries.Clear();
            _lru.Clear();
            _bytes = 0;
        }
    }

    /// <summary>
    /// Looks a chunk up for a reader: ready (a verified file), pending (a fetch under way to await), or claimed — the
    /// caller must now produce it and complete or fail the claim.
    /// </summary>
    public ChunkLookup Lookup(Digest digest, int size)
    {
        CheckChunk(digest, size);
        lock (_sync)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_entries.TryGetValue(digest, out Entry? entry))
            {
                switch (entry.State)
                {
                    case EntryState.Ready when entry.Size == size:
                        _hits++;
                        Touch(entry);
                        return new ChunkLookup(entry.Chunk, null, null);
                    case EntryState.Pending:
                        _waits++;
                        return new ChunkLookup(null, entry.Pending!.Task, null);
                }

                // Not yet verified (or of another size, which verification will reject): claim it.
                Remove(entry);
            }

            _misses++;
            return new ChunkLookup(null, null, ClaimLocked(digest, size));
        }
    }

    /// <summary>
    /// Claims a chunk for a background fetch if nobody has it: null when it is ready or pending, or — unless
    /// <paramref name="includeUnverified"/> — on disk waiting for verification.
    /// </summary>
    public ChunkClaim? TryClaim(Digest digest, int size, bool includeUnverified)
    {
        CheckChunk(digest, size);
        lock (_sync)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_entries.TryGetValue(digest, out Entry? entry))
            {
                if (entry.State != EntryState.Unverified || !includeUnverified)
                {
                    return null;
                }

                Remove(entry);
            }

            return ClaimLocked(digest, size);
        }
    }

    /// <summary>
    /// Drops a ready chunk whose file turned out missing or short when read (deleted by another process sharing the
    /// directory, or evicted while the reader held it), so the next lookup fetches it again.
    /// </summary>
    public void Invalidate(CachedChunk chunk)
    {
        lock (_sync)
        {
            if (_entries.TryGetValue(chunk.Digest, out Entry? entry) && ReferenceEquals(entry.Chunk, chunk))
            {
                Remove(entry);
            }
        }

        LogVanished(chunk.Digest.ToString());
    }

    private static void CheckChunk(Digest digest, int size)
    {
        if (digest.IsEmpty || digest.Algorithm != Digest.Sha256)
        {
            throw new ArgumentException("Chunks are addressed by sha256 digests.", nameof(digest));
        }

        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(size);
    }

    private ChunkClaim ClaimLocked(Digest digest, int size)
    {
        var entry = new Entry(digest, size)
        {
            State = EntryState.Pending,
            Pending = new TaskCompletionSource<CachedChunk>(TaskCreationOptions.RunContinuationsAsynchronously),
        };
        _entries.Add(digest, entry);
        return new ChunkClaim(this, entry);
    }

    private void Touch(Entry entry)
    {
        if (entry.Node is { } node && node != _lru.Last)
        {
            _lru.Remove(node);
            _lru.AddLast(node);
        }
    }

    // Removes an entry from the maps (not its file), closing its open handle.
    private void Remove(Entry entry)
    {
        _entries.Remove(entry.Digest);
        entry.Chunk?.CloseHandle();
        if (entry.Node is { } node)
        {
            _lru.Remove(node);
            entry.Node = null;
            _bytes -= entry.Size;
        }
    }

    // Adds a verified file as ready, most recently used, then evicts down to the bound (never the new entry itself).
    private CachedChunk MarkReadyLocked(Entry entry)
    {
        entry.State = EntryState.Ready;
        entry.Chunk = new CachedChunk(entry.Digest, entry.Size, GetChunkPath(entry.Digest), null, _handles);
        entry.Node = _lru.AddLast(entry);
        _bytes += entry.Size;
        EvictLocked(keep: entry);
        return entry.Chunk;
    }

    private void EvictLocked(Entry? keep)
    {
        long max = Options.MaxCacheBytes;
        if (max <= 0)
        {
            return;
        }

        LinkedListNode<Entry>? node = _lru.First;
        while (_bytes > max && node is not null)
        {
            LinkedListNode<Entry>? next = node.Next;
            Entry victim = node.Value;
            if (!ReferenceEquals(victim, keep))
            {
                Remove(victim);
                _evictions++;
                _evictedBytes += victim.Size;
                DeleteFile(GetChunkPath(victim.Digest));
            }

            node = next;
        }
    }

    private void DeleteFile(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            LogDeleteFailed(path, ex.Message);
        }
    }

    /// <summary>The state of one chunk.</summary>
    internal enum EntryState
    {
        /// <summary>A file from before this instance, not yet verified.</summary>
        Unverified,

        /// <summary>Being produced by the holder of a claim.</summary>
        Pending,

        /// <summary>Its file is verified.</summary>
        Ready,
    }

    internal sealed class Entry(Digest digest, int size)
    {
        public Digest Digest { get; } = digest;

        public int Size { get; set; } = size;

        public EntryState State { get; set; }

        public TaskCompletionSource<CachedChunk>? Pending { get; set; }

        public CachedChunk? Chunk { get; set; }

        public LinkedListNode<Entry>? Node { get; set; }
    }

    /// <summary>
    /// The right to produce one chunk: exactly one holder per pending chunk. The holder completes it with verified
    /// bytes (<see cref="Complete"/> or <see cref="TryLoadFromDisk"/>) or fails it (<see cref="Fail"/>), which
    /// releases every reader awaiting the chunk.
    /// </summary>
    public sealed class ChunkClaim
    {
        private readonly ChunkCache _cache;
        private readonly Entry _entry;

        internal ChunkClaim(ChunkCache cache, Entry entry)
        {
            _cache = cache;
            _entry = entry;
        }

        /// <summary>The claimed chunk's digest.</summary>
        public Digest Digest => _entry.Digest;

        /// <summary>The claimed chunk's uncompressed length in bytes.</summary>
        public int Size => _entry.Size;

        /// <summary>Completes with the chunk, or faults with the reason it could not be produced.</summary>
        public Task<CachedChunk> Task => _entry.Pending!.Task;

        /// <summary>Whether the claim was completed or failed.</summary>
        public bool IsCompleted => Task.IsCompleted;

        /// <summary>
        /// Completes the claim from a file already in the cache directory if it holds exactly the chunk (size and
        /// sha256); deletes the file when it does not. Returns false when the chunk still has to be fetched.
        /// </summary>
        public bool TryLoadFromDisk() => _cache.TryLoadFromDisk(_entry);

        /// <summary>
        /// Stores <paramref name="verified"/> — the chunk's bytes, already checked against its digest by the caller
        /// (for example with <see cref="Format.ChunkCodec.Decode"/>) — and completes the claim. When the file cannot be written the
        /// chunk is served from memory to the readers waiting now and stays absent.
        /// </summary>
        public CachedChunk Complete(ReadOnlySpan<byte> verified) => _cache.Store(_entry, verified);

        /// <summary>Fails the claim: the chunk becomes absent again and every waiting reader gets <paramref name="error"/>.</summary>
        public void Fail(Exception error) => _cache.Fail(_entry, error);
    }
}

/// <summary>What <see cref="ChunkCache.Lookup"/> found: exactly one of the three is set.</summary>
/// <param name="Ready">The chunk, verified in the cache: read it.</param>
/// <param name="Pending">A fetch of the chunk under way: await it.</param>
/// <param name="Claim">The right to produce the chunk: the caller must complete or fail it.</param>
public readonly record struct ChunkLookup(CachedChunk? Ready, Task<CachedChunk>? Pending, ChunkCache.ChunkClaim? Claim);

using System.Collections.Concurrent;
using Accelerator.Chunks.Caching;
using Accelerator.Chunks.Statistics;
using Accelerator.Lazy.Format;
using Accelerator.Lazy.Statistics;
using Accelerator.Oci.Validation;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Accelerator.Lazy.Reading;

/// <summary>Told about every read a <see cref="LazyFileReader"/> serves, e.g. to record which files a start reads.</summary>
public interface ILazyReadObserver
{
    /// <summary>
    /// <paramref name="count"/> bytes of <paramref name="inode"/> at <paramref name="offset"/> were read (called after
    /// each successful read of at least one byte, possibly concurrently).
    /// </summary>
    void OnRead(ulong inode, long offset, int count);
}

/// <summary>
/// Reads the files of a lazy image: the fetch path of a lazy mount. A read finds the file's chunks by binary search
/// over its chunk list, serves ready chunks from the <see cref="ChunkCache"/>, awaits chunks another reader is already
/// fetching, and fetches the missing ones through the image's <see cref="IBlobSource"/> with ranged requests (adjacent
/// chunks merged, every chunk verified by digest before it is used or cached). Holes read as zeros.
/// </summary>
/// <remarks>
/// Thread-safe: any number of reads may run at once. <see cref="Prefetch.LazyPrefetcher"/> fetches in the background
/// through the same reader, at lower priority.
/// </remarks>
public sealed class LazyFileReader
{
    // File chunk maps kept for recently read files; past this many, the map is dropped and rebuilt as needed.
    private const int MaxCachedFileMaps = 4096;

    private readonly ChunkFetcher _fetcher;
    private readonly Dictionary<Digest, int> _blobIndex;
    private readonly ConcurrentDictionary<ulong, FileChunkMap> _files = new();
    private readonly ILazyReadObserver? _observer;
    private readonly ILogger _logger;

    /// <summary>Creates a reader of the files of <paramref name="bootstrap"/>.</summary>
    /// <param name="bootstrap">The image's metadata.</param>
    /// <param name="blobs">Where the data blobs are read from (with ranged reads): a registry, a mirror chain, a layout.</param>
    /// <param name="repository">The repository of the data blobs (ignored by sources without repositories).</param>
    /// <param name="cache">The chunk cache; it may be shared by several readers and images.</param>
    /// <param name="options">Fetch limits; defaults when null.</param>
    /// <param name="statistics">Where to count; new statistics when null.</param>
    /// <param name="observer">Told about every read, if wanted (for example a <see cref="Tracing.ReadTraceRecorder"/>).</param>
    /// <param name="logger">Where to log; none when null.</param>
    /// <param name="timeProvider">The clock for request timeouts; the system clock when null.</param>
    public LazyFileReader(
        LazyBootstrap bootstrap, IBlobSource blobs, string repository, ChunkCache cache, LazyReaderOptions? options = null,
        LazyMountStatistics? statistics = null, ILazyReadObserver? observer = null, ILogger<LazyFileReader>? logger = null, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(bootstrap);
        ArgumentNullException.ThrowIfNull(blobs);
        ArgumentNullException.ThrowIfNull(repository);
        ArgumentNullException.ThrowIfNull(cache);
        options ??= new LazyReaderOptions();
        new LazyReaderOptionsValidator().ThrowIfOutOfRange(options, "lazy reader");
        Bootstrap = bootstrap;
        Options = options;
        Statistics = statistics ?? new LazyMountStatistics();
        Statistics.Cache ??= cache;
        _observer = observer;
        _logger = logger ?? (ILogger)NullLogger.Instance;
        _blobIndex = [];
        for (int i = 0; i < bootstrap.Blobs.Count; i++)
        {
            _blobIndex[bootstrap.Blobs[i].Digest] = i;
        }

        _fetcher = new ChunkFetcher(bootstrap, blobs, repository, cache, options, Statistics, _logger, timeProvider ?? TimeProvider.System);
    }

    /// <summary>The image's metadata.</summary>
    public LazyBootstrap Bootstrap { get; }

    /// <summary>The chunk cache.</summary>
    public ChunkCache Cache => _fetcher.Cache;

    /// <summary>The options in force.</summary>
    public LazyReaderOptions Options { get; }

    /// <summary>What the reader fetched and served.</summary>
    public LazyMountStatistics Statistics { get; }

    internal ChunkFetcher Fetcher => _fetcher;

    /// <summary>
    /// A reader of <paramref name="image"/>'s files whose chunks come from the image's store
    /// (<see cref="Accelerator.Chunks.Images.AcceleratedImage.Store"/>'s blobs), counted in the statistics as <see cref="LazyReaderOptions.SourceName"/>.
    /// </summary>
    public static LazyFileReader Create(
        LazyImage image, ChunkCache cache, LazyReaderOptions? options = null, LazyMountStatistics? statistics = null,
        ILazyReadObserver? observer = null, ILogger<LazyFileReader>? logger = null, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(image);
        options ??= new LazyReaderOptions();
        statistics ??= new LazyMountStatistics();
        var source = new CountingBlobSource(image.Store.Blobs, options.SourceName, statistics.Mount);
        return new LazyFileReader(image.Bootstrap, source, image.Reference.Repository, cache, options, statistics, observer, logger, timeProvider);
    }

    /// <summary>
    /// Reads up to <paramref name="buffer"/>'s length of the regular file <paramref name="inode"/> from
    /// <paramref name="offset"/>, returning the bytes read: fewer only at the end of the file, 0 at or past it.
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="inode"/> is not a regular file of the image.</exception>
    /// <exception cref="DigestMismatchException">A chunk's bytes do not match its digest (nothing is served).</exception>
    /// <exception cref="InvalidDataException">A chunk's bytes are not a valid chunk, or its blob ends early.</exception>
    /// <exception cref="TimeoutException">A ranged request took longer than <see cref="LazyReaderOptions.RequestTimeout"/>.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was canceled.</exception>
    /// <remarks>The blob source's own errors (for example <see cref="BlobNotFoundException"/>) pass through.</remarks>
    public async ValueTask<int> ReadAsync(ulong inode, long offset, Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        FileEntry entry = Bootstrap.GetEntry(inode) ?? throw new ArgumentException($"The image has no inode {inode}.", nameof(inode));
        if (entry.Type != FileEntryType.Regular)
        {
            throw new ArgumentException($"Inode {inode} ({entry.Path}) is a {entry.Type}, not a regular file.", nameof(inode));
        }

        cancellationToken.ThrowIfCancellationRequested();
        if (offset >= entry.Size || buffer.IsEmpty)
        {
            return 0;
        }

        int count = (int)Math.Min(buffer.Length, entry.Size - offset);
        Memory<byte> destination = buffer[..count];
        FileChunkMap map = GetFileChunks(inode);
        long end = offset + count;
        int first = map.FirstEndingAfter(offset);
        int last = first;
        while (last < map.Chunks.Length && map.Starts[last] < end)
        {
            last++;
        }

        if (first == last)
        {
            destination.Span.Clear();
        }
        else
        {
            var pieces = new ArraySegment<ChunkRef>(map.Chunks, first, last - first);
            CachedChunk[] chunks = await _fetcher.GetAsync(pieces, cancellationToken).ConfigureAwait(false);
            long position = offset;
            for (int k = 0; k < pieces.Count; k++)
            {
                long start = map.Starts[first + k];
                if (start > position)
                {
                    destination.Span[(int)(position - offset)..(int)(start - offset)].Clear();
                    position = start;
                }

                int inChunk = (int)(position - start);
                int length = (int)Math.Min(pieces[k].Size - inChunk, end - position);
                for (int attempt = 1; ; attempt++)
                {
                    try
                    {
                        chunks[k].Read(inChunk, destination.Span.Slice((int)(position - offset), length));
                        break;
                    }
                    catch (ChunkVanishedException vanished) when (attempt < ChunkFetcher.MaxAttempts)
                    {
                        Cache.Invalidate(vanished.Chunk);
                        chunks[k] = (await _fetcher.GetAsync(pieces.Slice(k, 1), cancellationToken).ConfigureAwait(false))[0];
                    }
                }

                position += length;
            }

            if (position < end)
            {
                destination.Span[(int)(position - offset)..].Clear();
            }
        }

        Statistics.Mount.AddRead(count);
        _observer?.OnRead(inode, offset, count);
        return count;
    }

    /// <summary>The pieces of a regular file (none for other inodes), cached for recently read files.</summary>
    internal FileChunkMap GetFileChunks(ulong inode)
    {
        if (_files.TryGetValue(inode, out FileChunkMap? map))
        {
            return map;
        }

        IReadOnlyList<ChunkLocation> locations = Bootstrap.GetChunks(inode);
        if (locations.Count == 0)
        {
            return FileChunkMap.Empty;
        }

        var starts = new long[locations.Count];
        var chunks = new ChunkRef[locations.Count];
        for (int i = 0; i < locations.Count; i++)
        {
            starts[i] = locations[i].FileOffset;
            chunks[i] = Resolve(locations[i]);
        }

        map = new FileChunkMap(starts, chunks);
        if (_files.Count >= MaxCachedFileMaps)
        {
            _files.Clear();
        }

        _files[inode] = map;
        return map;
    }

    // The chunk table entry of a file's piece: its blob, then binary search by offset (the table is sorted by blob and
    // offset, and a validated bootstrap's pieces always name one of its entries).
    private ChunkRef Resolve(ChunkLocation location)
    {
        int blob = _blobIndex[location.Blob];
        int low = 0, high = Bootstrap.ChunkCount - 1;
        while (low <= high)
        {
            int middle = low + ((high - low) >> 1);
            LazyChunk chunk = Bootstrap.GetChunk(middle);
            int order = chunk.BlobIndex != blob ? chunk.BlobIndex.CompareTo(blob) : chunk.CompressedOffset.CompareTo(location.CompressedOffset);
            if (order == 0)
            {
                return ChunkFetcher.CreateChunkRef(Bootstrap, middle, chunk);
            }

            if (order < 0)
            {
                low = middle + 1;
            }
            else
            {
                high = middle - 1;
            }
        }

        throw new InvalidDataException($"No chunk of the image is stored at {location.Blob}+{location.CompressedOffset}.");
    }
}

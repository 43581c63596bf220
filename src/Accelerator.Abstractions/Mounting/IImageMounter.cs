namespace Accelerator;

/// <summary>Options for one mount.</summary>
public sealed record MountOptions
{
    /// <summary>Mount read-only (no writable upper layer). <value>Default: false.</value></summary>
    public bool ReadOnly { get; init; }

    /// <summary>The platform to select from a multi-platform image. <value>Default: the current platform.</value></summary>
    public Platform? Platform { get; init; }

    /// <summary>Progress reports, if wanted.</summary>
    public IProgress<MountProgress>? Progress { get; init; }
}

/// <summary>Progress of a mount: bytes transferred of bytes expected.</summary>
/// <param name="Stage">What is happening, e.g. "pull" or "unpack".</param>
/// <param name="Item">The item being worked on, e.g. a layer digest.</param>
/// <param name="Completed">Units done.</param>
/// <param name="Total">Units expected, or -1 when unknown.</param>
public readonly record struct MountProgress(string Stage, string Item, long Completed, long Total);

/// <summary>What a mount fetched and how long it took.</summary>
public sealed class MountStatistics
{
    private readonly Dictionary<string, long> _bytesBySource = new(StringComparer.Ordinal);
    private long _bytesRead;
    private long _chunksFetched;

    /// <summary>The strategy that served the mount.</summary>
    public Strategy Strategy { get; init; }

    /// <summary>
    /// What the strategy mounted, when it has more than one kind of source: the lazy strategy says
    /// <see cref="ConvertedSource"/> (a converted variant) or <see cref="SeekableSource"/> (the image's own layers, read
    /// through seekable indexes, eStargz or zstd:chunked tables of contents). <value>Default: null (one kind of source).</value>
    /// </summary>
    public string? Source { get; set; }

    /// <summary>The <see cref="Source"/> of a mount served from a converted variant of the image.</summary>
    public const string ConvertedSource = "converted";

    /// <summary>The <see cref="Source"/> of a mount served from the image's own layers through seekable indexes (no conversion).</summary>
    public const string SeekableSource = "seekable";

    /// <summary>Time from the start of the mount until it was ready.</summary>
    public TimeSpan TimeToReady { get; set; }

    /// <summary>Strategies tried before the one that served, with the reason each was skipped.</summary>
    public IList<(Strategy Strategy, string Reason)> Fallbacks { get; } = new List<(Strategy, string)>();

    /// <summary>Bytes fetched per source (origin, mirror, peer, cache).</summary>
    public IReadOnlyDictionary<string, long> BytesFetchedBySource
    {
        get
        {
            lock (_bytesBySource)
            {
                return new Dictionary<string, long>(_bytesBySource);
            }
        }
    }

    /// <summary>All bytes fetched.</summary>
    public long BytesFetched
    {
        get
        {
            lock (_bytesBySource)
            {
                return _bytesBySource.Values.Sum();
            }
        }
    }

    /// <summary>Bytes read by processes (or written out, for a full pull).</summary>
    public long BytesRead => Interlocked.Read(ref _bytesRead);

    /// <summary>Chunks (or layers) fetched.</summary>
    public long ChunksFetched => Interlocked.Read(ref _chunksFetched);

    /// <summary>Records bytes fetched from <paramref name="source"/>.</summary>
    public void AddFetched(string source, long bytes)
    {
        lock (_bytesBySource)
        {
            _bytesBySource[source] = _bytesBySource.GetValueOrDefault(source) + bytes;
        }
    }

    /// <summary>Records bytes read.</summary>
    public void AddRead(long bytes) => Interlocked.Add(ref _bytesRead, bytes);

    /// <summary>Records chunks fetched.</summary>
    public void AddChunks(long count) => Interlocked.Add(ref _chunksFetched, count);
}

/// <summary>An image made available at a path. Disposing it unmounts and removes what the mount created.</summary>
public interface IMountedImage : IAsyncDisposable
{
    /// <summary>The image that was mounted.</summary>
    ImageReference Image { get; }

    /// <summary>The digest of the manifest that was mounted.</summary>
    Digest ManifestDigest { get; }

    /// <summary>Where the root file system is.</summary>
    string MountPoint { get; }

    /// <summary>What the mount fetched, and which strategy served it.</summary>
    MountStatistics Statistics { get; }
}

/// <summary>Turns an image reference into a root file system at a path.</summary>
public interface IImageMounter
{
    /// <summary>The strategy this mounter implements.</summary>
    Strategy Strategy { get; }

    /// <summary>
    /// Whether this mounter can serve the image here (an accelerated artifact exists, FUSE is available…); when it
    /// cannot, the reason.
    /// </summary>
    ValueTask<(bool CanMount, string? Reason)> CanMountAsync(ImageReference image, CancellationToken cancellationToken = default);

    /// <summary>Mounts the image at <paramref name="mountPoint"/>.</summary>
    Task<IMountedImage> MountAsync(ImageReference image, string mountPoint, MountOptions options, CancellationToken cancellationToken = default);
}

/// <summary>
/// The one entry point: mounts an image with the first strategy, in the configured order, that can serve it, and
/// reports which did.
/// </summary>
public interface IImageAccelerator
{
    /// <summary>The strategies in the order they are tried.</summary>
    IReadOnlyList<Strategy> Strategies { get; }

    /// <summary>Mounts <paramref name="image"/> at <paramref name="mountPoint"/>.</summary>
    Task<IMountedImage> MountAsync(ImageReference image, string mountPoint, MountOptions? options = null, CancellationToken cancellationToken = default);
}

/// <summary>
/// An optional capability of an <see cref="IMountedImage"/>: it writes its statistics to a file itself when it is
/// disposed — more than <see cref="MountStatistics"/> holds (e.g. a lazy mount's fetch counters and prefetch), and final
/// only once the mount is released. A caller that wants the statistics in that file writes none of its own.
/// </summary>
public interface IReportsStatisticsFile
{
    /// <summary>The file the statistics are written to when the image is disposed, or null when none was asked for.</summary>
    string? StatisticsFile { get; }
}

/// <summary>
/// An optional capability of an <see cref="IMountedImage"/>: its mount survives the process serving it (a holder keeps
/// the connection), and a successor process mounting the same image at the same mount point takes it over.
/// </summary>
public interface IHeldMountedImage
{
    /// <summary>
    /// Completes when a successor took the mount over: this process stopped serving it and left everything mounted for
    /// the successor. Disposing the image afterwards unmounts nothing; the process is expected to exit.
    /// </summary>
    Task HandedOver { get; }
}

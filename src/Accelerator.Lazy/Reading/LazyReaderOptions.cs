namespace Accelerator.Lazy.Reading;

/// <summary>Options of <see cref="LazyFileReader"/>: how chunks are fetched.</summary>
public sealed record LazyReaderOptions
{
    /// <summary>Ranged requests for readers under way at once. <value>Default: 8.</value></summary>
    public int MaxConcurrentFetches { get; init; } = 8;

    /// <summary>
    /// Ranged requests for background prefetch under way at once. They are a separate pool, and a prefetch request starts
    /// only while no reader's request is waiting for a slot. <value>Default: 2.</value>
    /// </summary>
    public int MaxConcurrentPrefetches { get; init; } = 2;

    /// <summary>
    /// The largest ranged request: missing chunks are merged into one request up to this many stored bytes (a single
    /// chunk larger than this is still fetched whole, in one request). <value>Default: 4 MiB.</value>
    /// </summary>
    public int MaxRequestBytes { get; init; } = 4 << 20;

    /// <summary>
    /// The largest gap between two missing chunks of one data blob (bytes of chunks that are not needed, or already
    /// cached) that is fetched and thrown away to merge them into one request. <value>Default: 16 KiB.</value>
    /// </summary>
    public int MergeGapBytes { get; init; } = 16 << 10;

    /// <summary>
    /// Read-ahead for small chunks: when a reader's request is shorter than this, the missing chunks that follow it in
    /// its data blob are fetched in the same request, up to this many bytes in all. The converter packs a directory's
    /// small files next to each other, so this saves a round trip per file when a program reads its neighbours; chunks
    /// at least this big are never extended. 0 turns it off. <value>Default: 64 KiB.</value>
    /// </summary>
    public int ReadAheadBytes { get; init; } = 64 << 10;

    /// <summary>
    /// The longest one ranged request may take, from the moment it has a slot to its last byte. A request that takes
    /// longer fails with <see cref="TimeoutException"/>: its chunks stay absent and the readers waiting on them get the
    /// error (so a hung source never leaves a reader stuck), and a later read tries again.
    /// <see cref="Timeout.InfiniteTimeSpan"/> turns it off. <value>Default: 60 seconds.</value>
    /// </summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>
    /// The prefetch order after the image's prefetch list: when true, <see cref="Prefetch.LazyPrefetcher"/> goes on to
    /// fetch every other chunk, in data blob order (the converter's path order). <value>Default: false.</value>
    /// </summary>
    public bool PrefetchAll { get; init; }

    /// <summary>The name of the origin blob source in statistics, used by <see cref="LazyFileReader.Create"/>. <value>Default: "origin".</value></summary>
    public string SourceName { get; init; } = "origin";

    /// <summary>Why these options cannot be used, or null when they can.</summary>
    internal string? GetProblem()
    {
        try
        {
            Validate();
            return null;
        }
        catch (ArgumentException ex)
        {
            return ex.Message;
        }
    }

    internal void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxConcurrentFetches, 1, nameof(MaxConcurrentFetches));
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxConcurrentPrefetches, 1, nameof(MaxConcurrentPrefetches));
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxRequestBytes, 4096, nameof(MaxRequestBytes));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(MaxRequestBytes, 256 << 20, nameof(MaxRequestBytes));
        ArgumentOutOfRangeException.ThrowIfNegative(MergeGapBytes, nameof(MergeGapBytes));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(MergeGapBytes, MaxRequestBytes, nameof(MergeGapBytes));
        ArgumentOutOfRangeException.ThrowIfNegative(ReadAheadBytes, nameof(ReadAheadBytes));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(ReadAheadBytes, MaxRequestBytes, nameof(ReadAheadBytes));
        ArgumentException.ThrowIfNullOrWhiteSpace(SourceName, nameof(SourceName));
        if (RequestTimeout != Timeout.InfiniteTimeSpan && RequestTimeout <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(RequestTimeout), RequestTimeout, "Positive, or Timeout.InfiniteTimeSpan.");
        }
    }
}

namespace Accelerator.Lazy.Statistics;

/// <summary>
/// What one layer of a seekable mount (an unconverted image) is read through and what it fetched, for
/// <c>--stats-json</c>'s <c>lazy.layers</c>. Thread-safe: counters are updated with interlocked operations.
/// </summary>
public sealed class LazyLayerStatistics
{
    private long _bytesFetched;
    private long _rangeRequests;
    private long _wholeReads;
    private long _unitErrors;

    /// <summary>Creates the statistics of layer <paramref name="layer"/>.</summary>
    /// <param name="layer">The layer's position, 0 for the bottom layer.</param>
    /// <param name="digest">The layer blob's digest.</param>
    /// <param name="size">The layer blob's size in bytes.</param>
    /// <param name="format">The seekable format: <c>gzip-index</c>, <c>tar-index</c>, <c>estargz</c>, <c>zstd:chunked</c>.</param>
    /// <param name="source">Where the layer's index came from: <c>index</c> (the artifact), <c>estargz</c>, <c>zstd:chunked</c> (its TOC), <c>whole</c> (fetched at mount).</param>
    public LazyLayerStatistics(int layer, Digest digest, long size, string format, string source)
    {
        Layer = layer;
        Digest = digest;
        Size = size;
        Format = format;
        Source = source;
    }

    /// <summary>The layer's position, 0 for the bottom layer.</summary>
    public int Layer { get; }

    /// <summary>The layer blob's digest.</summary>
    public Digest Digest { get; }

    /// <summary>The layer blob's size in bytes.</summary>
    public long Size { get; }

    /// <summary>The seekable format (<see cref="Accelerator.Seekable.SeekableLayerIndex.Format"/>).</summary>
    public string Format { get; internal set; }

    /// <summary>Where the layer's index came from: <c>index</c>, <c>estargz</c>, <c>zstd:chunked</c> or <c>whole</c>.</summary>
    public string Source { get; }

    /// <summary>Bytes of the layer blob fetched (ranged requests, TOC reads and whole reads).</summary>
    public long BytesFetched => Interlocked.Read(ref _bytesFetched);

    /// <summary>Ranged requests made to the layer blob.</summary>
    public long RangeRequests => Interlocked.Read(ref _rangeRequests);

    /// <summary>Whole reads of the layer blob (a small layer at mount, <c>--verify-index</c>).</summary>
    public long WholeReads => Interlocked.Read(ref _wholeReads);

    /// <summary>Units of the layer whose decoded bytes did not match their digest (never served, never cached).</summary>
    public long UnitErrors => Interlocked.Read(ref _unitErrors);

    /// <summary>Records <paramref name="bytes"/> fetched from the layer blob.</summary>
    public void AddFetched(long bytes) => Interlocked.Add(ref _bytesFetched, bytes);

    /// <summary>Records a ranged request.</summary>
    public void AddRangeRequest() => Interlocked.Increment(ref _rangeRequests);

    /// <summary>Records a whole read.</summary>
    public void AddWholeRead() => Interlocked.Increment(ref _wholeReads);

    /// <summary>Records a unit that failed verification.</summary>
    public void AddUnitError() => Interlocked.Increment(ref _unitErrors);
}

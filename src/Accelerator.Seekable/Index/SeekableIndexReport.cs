namespace Accelerator.Seekable.Index;

/// <summary>What <see cref="SeekableIndexer"/> did with one layer.</summary>
/// <param name="Digest">The layer's digest.</param>
/// <param name="MediaType">The layer's media type.</param>
/// <param name="CompressedBytes">The layer blob's size.</param>
/// <param name="Indexed">Whether an index was built for it.</param>
/// <param name="Reason">Why it was not indexed (null when it was).</param>
public sealed record SeekableIndexLayerReport(Digest Digest, string MediaType, long CompressedBytes, bool Indexed, string? Reason)
{
    /// <summary>The index format (<c>gzip-index</c>, <c>tar-index</c>) when indexed.</summary>
    public string? Format { get; init; }

    /// <summary>The spans (units) of the index.</summary>
    public int Spans { get; init; }

    /// <summary>The index blob's size.</summary>
    public long IndexBytes { get; init; }

    /// <summary>The index blob's size as a percentage of the compressed layer.</summary>
    public double IndexPercent => CompressedBytes == 0 ? 0 : 100.0 * IndexBytes / CompressedBytes;

    /// <summary>How long building the index took (reading, inflating, hashing the whole layer).</summary>
    public TimeSpan BuildTime { get; init; }
}

/// <summary>The start-read amplification of a prefetch list: what a mount fetches to read those files first.</summary>
/// <param name="Files">Listed paths found as regular files in indexed layers.</param>
/// <param name="NotFound">Listed paths not found as regular files in an indexed layer (not measured).</param>
/// <param name="FileBytes">The uncompressed bytes of the files found.</param>
/// <param name="FetchedBytes">The compressed bytes of the spans that hold them (each span counted once).</param>
public sealed record SeekableStartReadAmplification(int Files, int NotFound, long FileBytes, long FetchedBytes)
{
    /// <summary><see cref="FetchedBytes"/> ÷ <see cref="FileBytes"/> (0 when no byte was listed).</summary>
    public double Ratio => FileBytes == 0 ? 0 : (double)FetchedBytes / FileBytes;
}

/// <summary>What <c>accel index</c> did: per layer and in total, and where the artifact went.</summary>
/// <param name="Image">The image indexed.</param>
/// <param name="Manifest">The digest of the image manifest indexed (the artifact's subject).</param>
/// <param name="Layers">Every layer of the manifest, bottom first.</param>
public sealed record SeekableIndexReport(string Image, Digest Manifest, IReadOnlyList<SeekableIndexLayerReport> Layers)
{
    /// <summary>The artifact pushed, or null when nothing was indexed (or publishing was off).</summary>
    public Digest? Artifact { get; init; }

    /// <summary>How the artifact is listed: <c>referrers API</c> or <c>referrers tag sha256-…</c>.</summary>
    public string? Listing { get; init; }

    /// <summary>The span size used.</summary>
    public int SpanSize { get; init; }

    /// <summary>The compressed size of every layer of the image.</summary>
    public long ImageBytes => Layers.Sum(l => l.CompressedBytes);

    /// <summary>The size of every index blob.</summary>
    public long IndexBytes => Layers.Sum(l => l.IndexBytes);

    /// <summary>The index blobs as a percentage of the image's compressed layers.</summary>
    public double IndexPercent => ImageBytes == 0 ? 0 : 100.0 * IndexBytes / ImageBytes;

    /// <summary>The time spent building indexes.</summary>
    public TimeSpan BuildTime => TimeSpan.FromTicks(Layers.Sum(l => l.BuildTime.Ticks));

    /// <summary>The prefetch list's start-read amplification, when a list was given.</summary>
    public SeekableStartReadAmplification? StartRead { get; init; }
}

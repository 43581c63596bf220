using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;

namespace Accelerator.Seekable.Gzip;

/// <summary>Options of <see cref="GzipIndexBuilder"/>, checked by <see cref="GzipIndexOptionsValidator"/>.</summary>
public sealed class GzipIndexOptions
{
    /// <summary>The smallest span accepted: 64 KiB.</summary>
    public const int MinSpanSize = 64 << 10;

    /// <summary>The largest span accepted: 32 MiB.</summary>
    public const int MaxSpanSize = 32 << 20;

    /// <summary>
    /// The uncompressed bytes between checkpoints: a span closes at the first deflate block boundary (or gzip member
    /// start) at least this far from the previous one; an uncompressed tar layer is cut into slices of exactly this size.
    /// Smaller spans read less per random access and make a bigger index (one 32 KiB window, compressed, per span).
    /// </summary>
    /// <value>Default 4 MiB.</value>
    [Range(MinSpanSize, MaxSpanSize)]
    public int SpanSize { get; set; } = 4 << 20;

    /// <summary>The most uncompressed bytes a layer may hold; more raises <see cref="ContentTooLargeException"/>.</summary>
    /// <value>Default 64 GiB.</value>
    [Range(1L, long.MaxValue)]
    public long MaxUncompressedBytes { get; set; } = 64L << 30;

    /// <summary>The most tar entries a layer may hold; more raises <see cref="ContentTooLargeException"/>.</summary>
    /// <value>Default 1,000,000 (also the most an index blob may declare).</value>
    [Range(1, GzipLayerIndex.MaxEntries)]
    public int MaxEntries { get; set; } = GzipLayerIndex.MaxEntries;
}

/// <summary>Validates <see cref="GzipIndexOptions"/> (generated from its data annotations).</summary>
[OptionsValidator]
public sealed partial class GzipIndexOptionsValidator : IValidateOptions<GzipIndexOptions>
{
}

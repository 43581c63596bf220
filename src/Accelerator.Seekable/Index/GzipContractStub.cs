// TEMPORARY: the GZIP helper's contract (seekable-design.md), written against its signatures until branch gzip is
// READY. Deleted at the merge. The stub index has no entries and no units; its blob names the layer only.
using System.Text;

namespace Accelerator.Seekable.Gzip;

/// <summary>Stub of GZIP's options.</summary>
public sealed class GzipIndexOptions
{
    /// <summary>Stub.</summary>
    public int SpanSize { get; set; } = 4 << 20;

    /// <summary>Stub.</summary>
    public long MaxUncompressedBytes { get; set; } = 64L << 30;

    /// <summary>Stub.</summary>
    public int MaxEntries { get; set; } = 1_000_000;
}

/// <summary>Stub of GZIP's builder.</summary>
public static class GzipIndexBuilder
{
    /// <summary>Stub: verifies the blob's digest only.</summary>
    public static async Task<GzipLayerIndex> BuildAsync(Stream blob, Descriptor layer, GzipIndexOptions? options = null,
        Func<SeekableUnit, ReadOnlyMemory<byte>, ValueTask>? onUnit = null, CancellationToken cancellationToken = default)
    {
        var digest = await Digest.ComputeAsync(blob, cancellationToken).ConfigureAwait(false);
        if (digest != layer.Digest)
        {
            throw new DigestMismatchException(layer.Digest, digest.ToString(), "stub");
        }

        return new GzipLayerIndex(layer, options?.SpanSize ?? 4 << 20);
    }
}

/// <summary>Stub of GZIP's index.</summary>
public sealed class GzipLayerIndex : SeekableLayerIndex
{
    /// <summary>Stub.</summary>
    public const string MediaType = "application/vnd.accelerator.seekable.gzip-index.v1+zstd";

    internal GzipLayerIndex(Descriptor layer, int spanSize) : base(layer, [], [])
    {
        SpanSize = spanSize;
    }

    /// <inheritdoc />
    public override string Format => "gzip-index";

    /// <summary>Stub.</summary>
    public int SpanSize { get; }

    /// <summary>Stub.</summary>
    public long UncompressedSize => 0;

    /// <summary>Stub.</summary>
    public byte[] ToBytes() => Encoding.UTF8.GetBytes($"stub {Layer.Digest} {Layer.Size} {SpanSize}");

    /// <summary>Stub.</summary>
    public static GzipLayerIndex Read(ReadOnlySpan<byte> blob, Descriptor layer)
    {
        string[] parts = Encoding.UTF8.GetString(blob).Split(' ');
        if (parts.Length != 4 || parts[0] != "stub" || parts[1] != layer.Digest.ToString() || parts[2] != layer.Size.ToString(System.Globalization.CultureInfo.InvariantCulture))
        {
            throw new InvalidDataException("stub index does not name the layer");
        }

        return new GzipLayerIndex(layer, int.Parse(parts[3], System.Globalization.CultureInfo.InvariantCulture));
    }

    /// <inheritdoc />
    public override void Decode(int unitIndex, ReadOnlySpan<byte> encoded, Span<byte> destination) => throw new InvalidDataException("stub");
}

using System.Buffers.Binary;
using System.Globalization;
using Accelerator.Oci.Model;
using Accelerator.Seekable.Toc;
using ZstdSharp;

namespace Accelerator.Seekable.ZstdChunked;

/// <summary>
/// A zstd:chunked layer (containers/storage pkg/chunked) read through its TOC ("manifest"): a zstd layer whose every
/// file chunk starts a zstd frame, with the zstd-compressed manifest in a skippable frame near the end. The manifest is
/// located by the layer annotation <see cref="ManifestPositionAnnotation"/> (or the blob's 40-byte footer) and verified
/// against <see cref="ManifestChecksumAnnotation"/>: the sha256 of the manifest's compressed bytes, as
/// containers/storage writes and checks it (pkg/chunked/internal <c>WriteZstdChunkedManifest</c>,
/// pkg/chunked <c>readZstdChunkedManifest</c>). Each chunk is verified against its <c>chunkDigest</c> (a file of one
/// chunk: its <c>digest</c>).
/// </summary>
/// <remarks>
/// Data space: every regular file's content laid end to end in TOC order. Units: one per chunk, its compressed bytes
/// from the chunk's <c>offset</c> to the next chunk's (the file's last chunk: to the file's <c>endOffset</c>). The
/// manifest lives in skippable frames outside the tar stream, so it is no entry of the layer.
/// </remarks>
public sealed class ZstdChunkedLayerIndex : SeekableLayerIndex
{
    /// <summary>The annotation with the sha256 of the compressed manifest.</summary>
    public const string ManifestChecksumAnnotation = "io.github.containers.zstd-chunked.manifest-checksum";

    /// <summary>The annotation with the manifest's position, <c>offset:length:uncompressedLength:type</c>.</summary>
    public const string ManifestPositionAnnotation = "io.github.containers.zstd-chunked.manifest-position";

    /// <summary>The older name of <see cref="ManifestChecksumAnnotation"/> (containers/storage before 1.45, skopeo 1.9).</summary>
    public const string LegacyManifestChecksumAnnotation = "io.containers.zstd-chunked.manifest-checksum";

    /// <summary>The older name of <see cref="ManifestPositionAnnotation"/>.</summary>
    public const string LegacyManifestPositionAnnotation = "io.containers.zstd-chunked.manifest-position";

    /// <summary>The format's name: <c>zstd:chunked</c>.</summary>
    public const string FormatName = "zstd:chunked";

    /// <summary>The size of the footer this reader understands (containers/storage <c>FooterSizeSupported</c>).</summary>
    internal const int FooterSize = 40;

    // The manifest type of a CRFS-compatible JSON TOC (ManifestTypeCRFS).
    private const ulong ManifestTypeCrfs = 1;

    // The skippable frame around the manifest: 4 bytes of magic, 4 of length (RFC 8878 3.1.2).
    private const int SkippableFrameHeader = 8;

    private static ReadOnlySpan<byte> FooterMagic => "GnUlInUx"u8;

    private ZstdChunkedLayerIndex(Descriptor layer, List<SeekableEntry> entries, List<SeekableUnit> units, Digest manifestChecksum)
        : base(layer, entries, units) => ManifestChecksum = manifestChecksum;

    /// <inheritdoc />
    public override string Format => FormatName;

    /// <summary>The verified sha256 of the compressed manifest.</summary>
    public Digest ManifestChecksum { get; }

    /// <summary>Whether <paramref name="layer"/> claims to be zstd:chunked: a zstd layer with a manifest checksum annotation.</summary>
    public static bool Claims(Descriptor layer)
    {
        ArgumentNullException.ThrowIfNull(layer);
        return layer.MediaType is MediaTypes.OciLayerZstd or MediaTypes.OciLayerNonDistributableZstd && Annotation(layer, ManifestChecksumAnnotation, LegacyManifestChecksumAnnotation) is not null;
    }

    /// <summary>
    /// Locates the manifest (annotation, else footer), reads it with a ranged read, verifies its checksum and builds the index.
    /// </summary>
    /// <returns>The index, or <see langword="null"/> when the layer does not claim to be zstd:chunked (<see cref="Claims"/>).</returns>
    /// <exception cref="InvalidDataException">The layer claims to be zstd:chunked and its manifest is missing, broken,
    /// out of bounds or does not match its checksum.</exception>
    public static async Task<ZstdChunkedLayerIndex?> TryOpenAsync(IBlobSource blobs, BlobAddress address, Descriptor layer, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(blobs);
        ArgumentNullException.ThrowIfNull(layer);
        if (!Claims(layer))
        {
            return null;
        }

        ManifestPosition position;
        if (Annotation(layer, ManifestPositionAnnotation, LegacyManifestPositionAnnotation) is { } annotated)
        {
            position = ParsePosition(annotated, layer);
        }
        else
        {
            if (layer.Size < FooterSize)
            {
                throw new InvalidDataException($"zstd:chunked layer {layer.Digest} is {layer.Size} bytes: too small for a footer.");
            }

            byte[] footer = await BlobRanges.ReadExactlyAsync(blobs, address, layer.Size - FooterSize, FooterSize, "zstd:chunked footer", cancellationToken).ConfigureAwait(false);
            position = ReadFooter(footer, layer);
        }

        byte[] manifest = await BlobRanges.ReadExactlyAsync(blobs, address, position.Offset, position.Length, "zstd:chunked manifest", cancellationToken).ConfigureAwait(false);
        return Read(layer, position, manifest);
    }

    /// <summary>Where the manifest lies: its compressed bytes and its uncompressed length.</summary>
    internal readonly record struct ManifestPosition(long Offset, int Length, int UncompressedLength);

    /// <summary>Parses <c>offset:length:uncompressedLength:type</c> and bounds it.</summary>
    internal static ManifestPosition ParsePosition(string text, Descriptor layer)
    {
        string[] parts = text.Split(':');
        var values = new ulong[4];
        if (parts.Length != 4 || !parts.Select((part, i) => ulong.TryParse(part, NumberStyles.None, CultureInfo.InvariantCulture, out values[i])).All(ok => ok))
        {
            throw new InvalidDataException($"zstd:chunked layer {layer.Digest} has a manifest position '{text}', not offset:length:uncompressedLength:type.");
        }

        return Bound(values[0], values[1], values[2], values[3], layer);
    }

    /// <summary>Reads the 40-byte footer: four little-endian 64-bit numbers (offset, length, uncompressed length, type) and the magic.</summary>
    internal static ManifestPosition ReadFooter(ReadOnlySpan<byte> footer, Descriptor layer)
    {
        if (footer.Length != FooterSize || !footer[32..].SequenceEqual(FooterMagic))
        {
            throw new InvalidDataException($"zstd:chunked layer {layer.Digest} does not end with a zstd:chunked footer and has no manifest position annotation.");
        }

        return Bound(BinaryPrimitives.ReadUInt64LittleEndian(footer), BinaryPrimitives.ReadUInt64LittleEndian(footer[8..]),
            BinaryPrimitives.ReadUInt64LittleEndian(footer[16..]), BinaryPrimitives.ReadUInt64LittleEndian(footer[24..]), layer);
    }

    private static ManifestPosition Bound(ulong offset, ulong length, ulong uncompressed, ulong type, Descriptor layer)
    {
        if (type != ManifestTypeCrfs)
        {
            throw new InvalidDataException($"zstd:chunked layer {layer.Digest} has a manifest of type {type}; type {ManifestTypeCrfs} (CRFS JSON) is understood.");
        }

        if (length is < 1 or > TocLayout.MaxTocBytes || uncompressed is < 1 or > TocLayout.MaxTocBytes)
        {
            throw new InvalidDataException($"zstd:chunked layer {layer.Digest} declares a manifest of {length} bytes ({uncompressed} uncompressed); 1 to {TocLayout.MaxTocBytes} are accepted.");
        }

        if (offset < SkippableFrameHeader || offset > (ulong)layer.Size || length > (ulong)layer.Size - offset)
        {
            throw new InvalidDataException($"zstd:chunked layer {layer.Digest} places its manifest at {offset}+{length}, outside the blob ({layer.Size} bytes).");
        }

        return new ManifestPosition((long)offset, (int)length, (int)uncompressed);
    }

    /// <summary>Verifies and decompresses the manifest and builds the index.</summary>
    /// <exception cref="InvalidDataException">The checksum does not match, or the manifest is broken.</exception>
    internal static ZstdChunkedLayerIndex Read(Descriptor layer, ManifestPosition position, ReadOnlySpan<byte> manifest)
    {
        string what = $"zstd:chunked manifest of layer {layer.Digest}";
        string checksumText = Annotation(layer, ManifestChecksumAnnotation, LegacyManifestChecksumAnnotation) ?? string.Empty;
        if (!Digest.TryParse(checksumText, out var expected))
        {
            throw new InvalidDataException($"zstd:chunked layer {layer.Digest} has an invalid manifest checksum annotation '{checksumText}'.");
        }

        var actual = Digest.Compute(expected.Algorithm, manifest);
        if (actual != expected)
        {
            throw new InvalidDataException($"The {what} has checksum {actual}, not {expected} as the layer's annotation says: the manifest is not the one the image names.");
        }

        byte[] json = new byte[position.UncompressedLength];
        try
        {
            using var decompressor = new Decompressor();
            if (decompressor.Unwrap(manifest, json) != json.Length)
            {
                throw new InvalidDataException($"The {what} decompresses to fewer than the {json.Length} bytes its position declares.");
            }
        }
        catch (ZstdException ex)
        {
            throw new InvalidDataException($"The {what} is not a valid zstd frame of {json.Length} bytes: {ex.Message}", ex);
        }

        var layout = TocLayout.Build(TocLayout.ParseDocument(json, what), what, TocChunkEnd.FileEndOffset, position.Offset - SkippableFrameHeader);
        return new ZstdChunkedLayerIndex(layer, layout.Entries, layout.Units, expected);
    }

    /// <inheritdoc />
    /// <remarks>The first <see cref="SeekableUnit.DataLength"/> bytes the chunk's zstd frames decompress to.</remarks>
    public override unsafe void Decode(int unitIndex, ReadOnlySpan<byte> encoded, Span<byte> destination)
    {
        var unit = Units[unitIndex];
        if (encoded.Length != unit.CompressedLength || destination.Length != unit.DataLength)
        {
            throw new ArgumentException($"Unit {unitIndex} is {unit.CompressedLength} bytes encoded and {unit.DataLength} decoded; {encoded.Length} and {destination.Length} were given.");
        }

        fixed (byte* bytes = encoded)
        {
            using var input = new UnmanagedMemoryStream(bytes, encoded.Length);
            using var zstd = new DecompressionStream(input, checkEndOfStream: false);
            try
            {
                zstd.ReadExactly(destination);
            }
            catch (EndOfStreamException ex)
            {
                throw new InvalidDataException($"Chunk {unitIndex} of zstd:chunked layer {Layer.Digest} decompresses to fewer than {destination.Length} bytes.", ex);
            }
            catch (ZstdException ex)
            {
                throw new InvalidDataException($"Chunk {unitIndex} of zstd:chunked layer {Layer.Digest} is not valid zstd: {ex.Message}", ex);
            }
        }
    }

    private static string? Annotation(Descriptor layer, string name, string legacyName) =>
        layer.Annotations?.GetValueOrDefault(name) ?? layer.Annotations?.GetValueOrDefault(legacyName);
}

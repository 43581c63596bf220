using System.Buffers;
using Accelerator.Linux;
using ZstdSharp;

namespace Accelerator.Seekable.Gzip;

/// <summary>
/// The seekable index of a plain layer blob: a gzip (<c>tar+gzip</c>, one or more members) layer —
/// <see cref="Format"/> <c>gzip-index</c> — or an uncompressed tar layer — <c>tar-index</c>. The data space is the
/// uncompressed tar stream; each unit is a span between two checkpoints (gzip) or a fixed slice of the blob (tar),
/// with the sha256 of its uncompressed bytes computed from the verified layer by <see cref="GzipIndexBuilder"/>.
/// Stored as one blob (<see cref="ToBytes"/>, <see cref="Read"/>; docs/formats/seekable.md).
/// </summary>
/// <remarks>Immutable and safe to share: <see cref="Decode"/> may run on many threads at once.</remarks>
public sealed partial class GzipLayerIndex : SeekableLayerIndex
{
    /// <summary>The media type of an index blob.</summary>
    public const string MediaType = "application/vnd.accelerator.seekable.gzip-index.v1+zstd";

    /// <summary>The <see cref="Format"/> of a gzip layer's index.</summary>
    public const string GzipFormat = "gzip-index";

    /// <summary>The <see cref="Format"/> of an uncompressed tar layer's index.</summary>
    public const string TarFormat = "tar-index";

    /// <summary>The most entries an index may hold.</summary>
    public const int MaxEntries = 1_000_000;

    /// <summary>The most units (spans) an index may hold.</summary>
    public const int MaxUnits = 4_000_000;

    /// <summary>The longest entry name, link target or extended attribute name, in UTF-8 bytes.</summary>
    public const int MaxNameBytes = 4096;

    /// <summary>The most extended attributes one entry may carry.</summary>
    public const int MaxAttributesPerEntry = 1024;

    /// <summary>The largest extended attribute value (the Linux limit, <c>XATTR_SIZE_MAX</c>).</summary>
    public const int MaxAttributeValueBytes = 64 << 10;

    private readonly GzipCheckpoint[]? _checkpoints;

    internal GzipLayerIndex(
        Descriptor layer, bool gzip, int spanSize, long uncompressedSize, IReadOnlyList<SeekableEntry> entries,
        GzipCheckpoint[]? checkpoints, Digest[] digests)
        : base(layer, entries, BuildUnits(layer, gzip, spanSize, uncompressedSize, checkpoints, digests))
    {
        SpanSize = spanSize;
        UncompressedSize = uncompressedSize;
        _checkpoints = gzip ? checkpoints : null;
    }

    /// <inheritdoc />
    public override string Format => _checkpoints is null ? TarFormat : GzipFormat;

    /// <summary>The span size the index was built with (<see cref="GzipIndexOptions.SpanSize"/>).</summary>
    public int SpanSize { get; }

    /// <summary>The size of the uncompressed tar stream (for a tar layer, the blob's size).</summary>
    public long UncompressedSize { get; }

    internal IReadOnlyList<GzipCheckpoint>? Checkpoints => _checkpoints;

    /// <inheritdoc />
    /// <exception cref="ArgumentException">The spans are not the unit's lengths.</exception>
    public override void Decode(int unitIndex, ReadOnlySpan<byte> encoded, Span<byte> destination)
    {
        SeekableUnit unit = Units[unitIndex];
        if (encoded.Length != unit.CompressedLength || destination.Length != unit.DataLength)
        {
            throw new ArgumentException($"Unit {unitIndex} is {unit.CompressedLength} encoded and {unit.DataLength} decoded bytes; got {encoded.Length} and room for {destination.Length}.");
        }

        if (_checkpoints is null)
        {
            encoded.CopyTo(destination);
            return;
        }

        GzipCheckpoint checkpoint = _checkpoints[unitIndex];
        using var inflater = new ZlibInflater(checkpoint.IsMemberStart ? ZlibFormat.Gzip : ZlibFormat.RawDeflate);
        ReadOnlySpan<byte> input = encoded;
        if (!checkpoint.IsMemberStart)
        {
            if (checkpoint.Bits != 0)
            {
                // zran: the boundary's byte holds the next block's first bits in its top Bits bits.
                inflater.Prime(checkpoint.Bits, input[0] >> (8 - checkpoint.Bits));
                input = input[1..];
            }

            byte[] window = ArrayPool<byte>.Shared.Rent(ZlibInflater.WindowSize);
            try
            {
                int windowLength = DecompressWindow(checkpoint.Window!, window.AsSpan(0, ZlibInflater.WindowSize));
                inflater.SetDictionary(window.AsSpan(0, windowLength));
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(window);
            }
        }

        int written = 0;
        while (written < destination.Length)
        {
            ZlibInflateResult result = inflater.Inflate(input, destination[written..]);
            input = input[result.Consumed..];
            written += result.Produced;
            if (result.Status == ZlibStatus.StreamEnd)
            {
                // RFC 1952: a member ends with CRC-32 and ISIZE (8 bytes); a raw inflate leaves them to us, and a
                // further member may follow.
                if (inflater.Format == ZlibFormat.RawDeflate)
                {
                    if (input.Length < 8)
                    {
                        break;
                    }

                    input = input[8..];
                }

                inflater.Reset(ZlibFormat.Gzip);
            }
            else if (result.Consumed == 0 && result.Produced == 0)
            {
                break;
            }
        }

        if (written != destination.Length)
        {
            throw new InvalidDataException($"Unit {unitIndex} of layer {Layer.Digest} decodes to {written} bytes, not {destination.Length}.");
        }
    }

    /// <summary>Decompresses a stored window into <paramref name="destination"/> (32 KiB).</summary>
    internal static int DecompressWindow(byte[] window, Span<byte> destination)
    {
        try
        {
            using var decompressor = new Decompressor();
            return decompressor.Unwrap(window, destination);
        }
        catch (ZstdException ex)
        {
            throw new InvalidDataException($"A checkpoint window is not a valid zstd frame of at most {ZlibInflater.WindowSize} bytes: {ex.Message}", ex);
        }
    }

    private static SeekableUnit[] BuildUnits(
        Descriptor layer, bool gzip, int spanSize, long uncompressedSize, GzipCheckpoint[]? checkpoints, Digest[] digests)
    {
        if (spanSize is < GzipIndexOptions.MinSpanSize or > GzipIndexOptions.MaxSpanSize || uncompressedSize < 0)
        {
            throw new InvalidDataException($"The index of layer {layer.Digest} has span size {spanSize} and uncompressed size {uncompressedSize}.");
        }

        if (!gzip)
        {
            long count = (uncompressedSize + spanSize - 1) / spanSize;
            if (uncompressedSize != layer.Size || count != digests.Length)
            {
                throw new InvalidDataException($"The tar index of layer {layer.Digest} has {digests.Length} spans for {uncompressedSize} bytes (blob {layer.Size} bytes, span {spanSize}).");
            }

            var slices = new SeekableUnit[count];
            for (int i = 0; i < slices.Length; i++)
            {
                long offset = (long)i * spanSize;
                int length = (int)Math.Min(spanSize, uncompressedSize - offset);
                slices[i] = new SeekableUnit(offset, length, offset, length, digests[i]);
            }

            return slices;
        }

        ArgumentNullException.ThrowIfNull(checkpoints);
        if (checkpoints.Length != digests.Length || (checkpoints.Length == 0) != (uncompressedSize == 0)
            || (checkpoints.Length > 0 && (checkpoints[0].DataOffset != 0 || checkpoints[0].ByteOffset != 0 || !checkpoints[0].IsMemberStart)))
        {
            throw new InvalidDataException($"The gzip index of layer {layer.Digest} does not start with a member at offset 0, or has {checkpoints.Length} checkpoints for {digests.Length} digests.");
        }

        var units = new SeekableUnit[checkpoints.Length];
        for (int i = 0; i < units.Length; i++)
        {
            GzipCheckpoint checkpoint = checkpoints[i];
            GzipCheckpoint? next = i + 1 < units.Length ? checkpoints[i + 1] : null;
            if (checkpoint.Bits is < 0 or > 7 || checkpoint.ByteOffset < (checkpoint.Bits == 0 ? 0 : 1) || (checkpoint.IsMemberStart && checkpoint.Bits != 0))
            {
                throw new InvalidDataException($"Checkpoint {i} of the index of layer {layer.Digest} has a bad bit position.");
            }

            long dataEnd = next?.DataOffset ?? uncompressedSize;
            long blobEnd = next?.ByteOffset ?? layer.Size;
            long dataLength = dataEnd - checkpoint.DataOffset;
            long encodedLength = blobEnd - checkpoint.FirstByte;
            if (dataLength is < 1 or > MaxUnitBytes || encodedLength is < 1 or > int.MaxValue)
            {
                throw new InvalidDataException($"Span {i} of the index of layer {layer.Digest} is out of range (data {checkpoint.DataOffset}+{dataLength}, blob {checkpoint.FirstByte}+{encodedLength}).");
            }

            units[i] = new SeekableUnit(checkpoint.FirstByte, (int)encodedLength, checkpoint.DataOffset, (int)dataLength, digests[i]);
        }

        return units;
    }
}

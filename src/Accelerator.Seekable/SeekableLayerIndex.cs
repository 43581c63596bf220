using Accelerator.Oci.Layers;

namespace Accelerator.Seekable;

/// <summary>
/// One tar entry of a seekable layer, and where a regular file's content lies in the layer's data space
/// (<see cref="SeekableLayerIndex"/>).
/// </summary>
/// <param name="Header">The entry as the layer's tar stream (or its TOC) states it; paths as written there.</param>
/// <param name="DataOffset">
/// For a regular file with content: the offset of its first byte in the layer's data space; its bytes are
/// [<paramref name="DataOffset"/>, <paramref name="DataOffset"/> + <see cref="TarEntryHeader.Size"/>). 0 otherwise.
/// </param>
public sealed record SeekableEntry(TarEntryHeader Header, long DataOffset);

/// <summary>
/// A unit of verified data: a range of the layer blob that decodes (<see cref="SeekableLayerIndex.Decode"/>) to a range
/// of the layer's data space whose sha256 is <see cref="Digest"/>. A reader fetches, decodes and verifies whole units;
/// the chunk cache keeps them by digest.
/// </summary>
/// <param name="CompressedOffset">Where the unit's encoded bytes start in the layer blob.</param>
/// <param name="CompressedLength">How many encoded bytes to fetch (may run past what the decoder consumes, never past the blob).</param>
/// <param name="DataOffset">Where the decoded bytes lie in the layer's data space.</param>
/// <param name="DataLength">How many bytes the unit decodes to (1 to <see cref="SeekableLayerIndex.MaxUnitBytes"/>).</param>
/// <param name="Digest">The sha256 of the decoded bytes.</param>
public readonly record struct SeekableUnit(long CompressedOffset, int CompressedLength, long DataOffset, int DataLength, Digest Digest);

/// <summary>
/// A layer that can be read lazily from its original blob: its entries (tar order) and the verified units its file
/// content decodes from. Implementations: the gzip (and uncompressed tar) index this project builds
/// (<c>Gzip/</c>), eStargz (<c>Stargz/</c>) and zstd:chunked (<c>ZstdChunked/</c>) layers read through their TOC.
/// </summary>
/// <remarks>
/// The data space is the format's: for an indexed gzip or tar layer, the uncompressed tar stream; for a TOC format,
/// the regular files' contents laid end to end in TOC order. Units are sorted by <see cref="SeekableUnit.DataOffset"/>,
/// do not overlap, and cover every byte of every entry's content. Everything here was validated when the index was
/// read (bounded, in range); readers verify each decoded unit against its digest before using a byte of it.
/// </remarks>
public abstract class SeekableLayerIndex
{
    /// <summary>The largest unit a format may declare: 64 MiB.</summary>
    public const int MaxUnitBytes = 64 << 20;

    /// <summary>Creates the index of <paramref name="layer"/>.</summary>
    /// <exception cref="InvalidDataException">A unit is out of order, overlaps another, is empty or too large, or lies outside the blob.</exception>
    protected SeekableLayerIndex(Descriptor layer, IReadOnlyList<SeekableEntry> entries, IReadOnlyList<SeekableUnit> units)
    {
        ArgumentNullException.ThrowIfNull(layer);
        ArgumentNullException.ThrowIfNull(entries);
        ArgumentNullException.ThrowIfNull(units);
        long end = 0;
        foreach (var unit in units)
        {
            if (unit.DataLength is < 1 or > MaxUnitBytes || unit.DataOffset < end || unit.CompressedOffset < 0 || unit.CompressedLength < 1
                || unit.CompressedOffset + unit.CompressedLength > layer.Size)
            {
                throw new InvalidDataException($"The index of layer {layer.Digest} has a unit out of order or out of range (data {unit.DataOffset}+{unit.DataLength}, blob {unit.CompressedOffset}+{unit.CompressedLength}).");
            }

            end = unit.DataOffset + unit.DataLength;
        }

        Layer = layer;
        Entries = entries;
        Units = units;
    }

    /// <summary>The layer blob (digest, size, media type) the units are ranges of.</summary>
    public Descriptor Layer { get; }

    /// <summary>The format's name in reasons and statistics: <c>gzip-index</c>, <c>tar-index</c>, <c>estargz</c>, <c>zstd:chunked</c>.</summary>
    public abstract string Format { get; }

    /// <summary>The layer's entries in tar order (whiteouts and opaque markers included, as the tar states them).</summary>
    public IReadOnlyList<SeekableEntry> Entries { get; }

    /// <summary>The units, sorted by <see cref="SeekableUnit.DataOffset"/>.</summary>
    public IReadOnlyList<SeekableUnit> Units { get; }

    /// <summary>
    /// Decodes unit <paramref name="unitIndex"/> from its fetched bytes <paramref name="encoded"/> (exactly
    /// <see cref="SeekableUnit.CompressedLength"/> bytes from <see cref="SeekableUnit.CompressedOffset"/>) into
    /// <paramref name="destination"/> (exactly <see cref="SeekableUnit.DataLength"/> bytes). Does not verify the digest:
    /// the caller does, before using the bytes.
    /// </summary>
    /// <exception cref="InvalidDataException">The bytes do not decode to exactly the unit's length.</exception>
    public abstract void Decode(int unitIndex, ReadOnlySpan<byte> encoded, Span<byte> destination);

    /// <summary>The index of the unit holding data offset <paramref name="dataOffset"/>, or -1 when no unit does.</summary>
    public int FindUnit(long dataOffset)
    {
        int low = 0, high = Units.Count - 1;
        while (low <= high)
        {
            int middle = low + ((high - low) >> 1);
            var unit = Units[middle];
            if (dataOffset < unit.DataOffset)
            {
                high = middle - 1;
            }
            else if (dataOffset >= unit.DataOffset + unit.DataLength)
            {
                low = middle + 1;
            }
            else
            {
                return middle;
            }
        }

        return -1;
    }
}

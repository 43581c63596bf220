using System.Security.Cryptography;
using Accelerator.Oci.Layers;

namespace Accelerator.Seekable.Tests.Reading;

/// <summary>
/// A test format whose data space is the layer blob itself (an uncompressed tar) and whose units are fixed raw slices
/// of it: decode is a copy. Entries and data offsets come from reading the real tar with <see cref="LayerTarReader"/>,
/// which reads whole 512-byte blocks, so the stream position after an entry's header is where its data starts.
/// </summary>
internal sealed class IdentityLayerIndex : SeekableLayerIndex
{
    private IdentityLayerIndex(Descriptor layer, IReadOnlyList<SeekableEntry> entries, IReadOnlyList<SeekableUnit> units)
        : base(layer, entries, units)
    {
    }

    public override string Format => "identity";

    /// <summary>Indexes <paramref name="tar"/> with units of <paramref name="unitSize"/> bytes.</summary>
    public static IdentityLayerIndex Build(byte[] tar, int unitSize = 4096)
    {
        var layer = Descriptor.FromContent("application/vnd.oci.image.layer.v1.tar", tar);
        var entries = new List<SeekableEntry>();
        using (var stream = new MemoryStream(tar, writable: false))
        using (var reader = new LayerTarReader(stream, leaveOpen: true))
        {
            while (reader.ReadNextAsync().AsTask().GetAwaiter().GetResult() is { } entry)
            {
                entries.Add(new SeekableEntry(entry.Header, entry.Header.Kind == TarEntryKind.RegularFile ? stream.Position : 0));
            }
        }

        var units = new List<SeekableUnit>();
        for (int offset = 0; offset < tar.Length; offset += unitSize)
        {
            int length = Math.Min(unitSize, tar.Length - offset);
            units.Add(new SeekableUnit(offset, length, offset, length, Digest.FromHash(Digest.Sha256, SHA256.HashData(tar.AsSpan(offset, length)))));
        }

        return new IdentityLayerIndex(layer, entries, units);
    }

    /// <summary>An index of hand-made entries with no content (for tree rules a tar cannot express, such as NUL in names).</summary>
    public static IdentityLayerIndex FromEntries(params TarEntryHeader[] headers)
        => new(Descriptor.FromContent("application/vnd.oci.image.layer.v1.tar", "none"u8), [.. headers.Select(h => new SeekableEntry(h, 0))], []);

    public override void Decode(int unitIndex, ReadOnlySpan<byte> encoded, Span<byte> destination)
    {
        if (encoded.Length != destination.Length)
        {
            throw new InvalidDataException($"Unit {unitIndex} is {encoded.Length} bytes, not {destination.Length}.");
        }

        encoded.CopyTo(destination);
    }
}

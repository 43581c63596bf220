using System.IO.Compression;
using Accelerator.Oci.Layers;
using Accelerator.Oci.Model;
using Accelerator.Seekable.Toc;

namespace Accelerator.Seekable.Stargz;

/// <summary>
/// An eStargz layer (containerd/stargz-snapshotter, docs/stargz-estargz.md) read through its TOC: a gzip layer whose
/// every file chunk starts a gzip member, with the TOC (<c>stargz.index.json</c>, a tar entry in its own gzip member)
/// and a 51-byte footer giving the TOC's offset at the end. The TOC is verified against the layer annotation
/// <see cref="TocDigestAnnotation"/>; each chunk against its <c>chunkDigest</c>.
/// </summary>
/// <remarks>
/// Data space: every regular file's content laid end to end in TOC order, then the TOC JSON itself — the tar stream
/// holds <c>stargz.index.json</c> (and the landmark files the TOC lists) as real entries, so the layer's tree shows
/// them too. Units: one per TOC chunk, its compressed bytes from the chunk's gzip member to the next payload offset
/// in the blob (the member also carries tar padding and following headers); the last unit is the TOC member, whose
/// digest is the TOC digest.
/// </remarks>
public sealed class EstargzLayerIndex : SeekableLayerIndex
{
    /// <summary>The layer annotation holding the sha256 of the uncompressed TOC JSON.</summary>
    public const string TocDigestAnnotation = "containerd.io/snapshot/stargz/toc.digest";

    /// <summary>The tar entry name of the TOC (estargz <c>TOCTarName</c>).</summary>
    public const string TocName = "stargz.index.json";

    /// <summary>The format's name: <c>estargz</c>.</summary>
    public const string FormatName = "estargz";

    private static readonly string[] GzipMediaTypes =
        [MediaTypes.OciLayerGzip, MediaTypes.DockerLayerGzip, MediaTypes.OciLayerNonDistributableGzip, MediaTypes.DockerForeignLayerGzip];

    private EstargzLayerIndex(Descriptor layer, List<SeekableEntry> entries, List<SeekableUnit> units, Digest tocDigest, long tocOffset)
        : base(layer, entries, units)
    {
        TocDigest = tocDigest;
        TocOffset = tocOffset;
    }

    /// <inheritdoc />
    public override string Format => FormatName;

    /// <summary>The verified sha256 of the TOC JSON (the layer's <see cref="TocDigestAnnotation"/>).</summary>
    public Digest TocDigest { get; }

    /// <summary>Where the TOC's gzip member starts in the blob.</summary>
    public long TocOffset { get; }

    /// <summary>Whether <paramref name="layer"/> claims to be eStargz: a gzip layer with the TOC digest annotation.</summary>
    public static bool Claims(Descriptor layer)
    {
        ArgumentNullException.ThrowIfNull(layer);
        return layer.Annotations?.ContainsKey(TocDigestAnnotation) == true && GzipMediaTypes.Contains(layer.MediaType, StringComparer.Ordinal);
    }

    /// <summary>
    /// Reads the footer and the TOC of <paramref name="layer"/> with two ranged reads and verifies the TOC digest.
    /// </summary>
    /// <returns>The index, or <see langword="null"/> when the layer does not claim to be eStargz (<see cref="Claims"/>).</returns>
    /// <exception cref="InvalidDataException">The layer claims to be eStargz and its footer or TOC is broken, out of
    /// bounds, or does not match the annotated digest.</exception>
    public static async Task<EstargzLayerIndex?> TryOpenAsync(IBlobSource blobs, BlobAddress address, Descriptor layer, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(blobs);
        ArgumentNullException.ThrowIfNull(layer);
        if (!Claims(layer))
        {
            return null;
        }

        if (layer.Size <= EstargzFooter.Size)
        {
            throw new InvalidDataException($"eStargz layer {layer.Digest} is {layer.Size} bytes: too small for a footer.");
        }

        byte[] footer = await BlobRanges.ReadExactlyAsync(blobs, address, layer.Size - EstargzFooter.Size, EstargzFooter.Size, "eStargz footer", cancellationToken).ConfigureAwait(false);
        long tocOffset = ReadTocOffset(layer, footer);
        byte[] tocMember = await BlobRanges.ReadExactlyAsync(blobs, address, tocOffset, (int)(layer.Size - EstargzFooter.Size - tocOffset), "eStargz TOC", cancellationToken).ConfigureAwait(false);
        return Read(layer, tocOffset, tocMember);
    }

    /// <summary>The TOC offset the footer states, bounded so that the TOC member is at most <see cref="TocLayout.MaxTocBytes"/>.</summary>
    internal static long ReadTocOffset(Descriptor layer, ReadOnlySpan<byte> footer)
    {
        long tocOffset;
        try
        {
            tocOffset = EstargzFooter.ReadTocOffset(footer, layer.Size);
        }
        catch (InvalidDataException ex)
        {
            throw new InvalidDataException($"eStargz layer {layer.Digest}: {ex.Message}", ex);
        }

        long tocLength = layer.Size - EstargzFooter.Size - tocOffset;
        if (tocLength > TocLayout.MaxTocBytes)
        {
            throw new InvalidDataException($"The eStargz TOC of layer {layer.Digest} is {tocLength} compressed bytes; at most {TocLayout.MaxTocBytes} are accepted.");
        }

        return tocOffset;
    }

    /// <summary>Builds the index from the TOC's gzip member (the bytes from <paramref name="tocOffset"/> to the footer).</summary>
    /// <exception cref="InvalidDataException">The member, its tar entry or the TOC is broken, or its digest is not the annotated one.</exception>
    internal static EstargzLayerIndex Read(Descriptor layer, long tocOffset, byte[] tocMember)
    {
        string what = $"eStargz TOC of layer {layer.Digest}";
        // A sha256 only: the TOC becomes a unit, and a unit's digest is a sha256.
        if (!Digest.TryParse(layer.Annotations?.GetValueOrDefault(TocDigestAnnotation), out var expected) || expected.Algorithm != Digest.Sha256)
        {
            throw new InvalidDataException($"eStargz layer {layer.Digest} has an invalid {TocDigestAnnotation} annotation (a sha256 digest is required).");
        }

        var (header, json) = InflateToc(tocMember, what);
        var actual = Digest.Compute(json);
        if (actual != expected)
        {
            throw new InvalidDataException($"The {what} has digest {actual}, not {expected} as the layer's {TocDigestAnnotation} annotation says: the TOC is not the one the image names.");
        }

        var layout = TocLayout.Build(TocLayout.ParseDocument(json, what), what, TocChunkEnd.NextPayloadOffset, tocOffset);
        layout.Entries.Add(new SeekableEntry(header, layout.DataLength));
        layout.Units.Add(new SeekableUnit(tocOffset, tocMember.Length, layout.DataLength, json.Length, expected));
        return new EstargzLayerIndex(layer, layout.Entries, layout.Units, expected, tocOffset);
    }

    /// <inheritdoc />
    /// <remarks>A chunk: the first <see cref="SeekableUnit.DataLength"/> bytes its gzip member inflates to. The TOC unit:
    /// the content of the tar entry its member holds.</remarks>
    public override void Decode(int unitIndex, ReadOnlySpan<byte> encoded, Span<byte> destination)
    {
        var unit = Units[unitIndex];
        if (encoded.Length != unit.CompressedLength || destination.Length != unit.DataLength)
        {
            throw new ArgumentException($"Unit {unitIndex} is {unit.CompressedLength} bytes encoded and {unit.DataLength} decoded; {encoded.Length} and {destination.Length} were given.");
        }

        if (unitIndex == Units.Count - 1)
        {
            var (_, json) = InflateToc(encoded.ToArray(), $"eStargz TOC of layer {Layer.Digest}");
            if (json.Length != destination.Length)
            {
                throw new InvalidDataException($"The eStargz TOC of layer {Layer.Digest} inflates to {json.Length} bytes, not {destination.Length}.");
            }

            json.CopyTo(destination);
            return;
        }

        Inflate(encoded, destination, $"chunk {unitIndex} of eStargz layer {Layer.Digest}");
    }

    private static unsafe void Inflate(ReadOnlySpan<byte> member, Span<byte> destination, string what)
    {
        if (member.Length < 18 || member[0] != 0x1f || member[1] != 0x8b)
        {
            throw new InvalidDataException($"The {what} does not start a gzip member.");
        }

        fixed (byte* bytes = member)
        {
            using var input = new UnmanagedMemoryStream(bytes, member.Length);
            using var gzip = new GZipStream(input, CompressionMode.Decompress);
            try
            {
                gzip.ReadExactly(destination);
            }
            catch (EndOfStreamException ex)
            {
                throw new InvalidDataException($"The {what} inflates to fewer than {destination.Length} bytes.", ex);
            }
            catch (InvalidDataException ex)
            {
                throw new InvalidDataException($"The {what} is not valid gzip: {ex.Message}", ex);
            }
        }
    }

    // The TOC member inflates to a tar stream whose first entry is the regular file stargz.index.json (estargz/gzip.go,
    // WriteTOCAndFooter).
    private static (TarEntryHeader Header, byte[] Json) InflateToc(byte[] member, string what)
    {
        try
        {
            using var gzip = new GZipStream(new MemoryStream(member, writable: false), CompressionMode.Decompress);
            using var tar = new LayerTarReader(gzip, new LayerTarReaderOptions { MaxEntries = 1 });

            // Over an in-memory stream the reader completes synchronously; Decode, which needs this too, is synchronous.
            var entry = tar.ReadNextAsync().AsTask().GetAwaiter().GetResult()
                ?? throw new InvalidDataException($"The {what} holds no tar entry.");
            var header = entry.Header;
            if (header.Kind != TarEntryKind.RegularFile || header.Path != TocName || header.SparseMap is not null)
            {
                throw new InvalidDataException($"The {what} holds '{header.Path}' ({header.Kind}), not the regular file {TocName}.");
            }

            if (header.Size is < 1 or > TocLayout.MaxTocBytes)
            {
                throw new InvalidDataException($"The {what} is {header.Size} bytes; 1 to {TocLayout.MaxTocBytes} are accepted.");
            }

            byte[] json = new byte[header.Size];
            entry.Data.ReadExactly(json);
            return (header, json);
        }
        catch (EndOfStreamException ex)
        {
            throw new InvalidDataException($"The {what} is truncated.", ex);
        }
        catch (ContentTooLargeException ex)
        {
            throw new InvalidDataException($"The {what} is malformed: {ex.Message}", ex);
        }
    }
}

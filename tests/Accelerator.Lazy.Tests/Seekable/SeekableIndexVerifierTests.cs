using Accelerator.Lazy.Seekable;
using Accelerator.Seekable;
using Accelerator.Seekable.Gzip;
using Accelerator.Testing.Images;

namespace Accelerator.Lazy.Tests.Seekable;

/// <summary>
/// <see cref="SeekableIndexVerifier.Difference"/>, what <c>--verify-index</c> decides with: the index built again from
/// the verified layer (the layered Debian image's packages layer) against the claimed one — identical, or the first
/// entry, unit or digest where a forged index departs from the layer.
/// </summary>
public sealed class SeekableIndexVerifierTests
{
    [Fact]
    public async Task Difference_SameLayerSameSpan_None()
    {
        var (claimed, actual) = (await BuildAsync(1 << 20), await BuildAsync(1 << 20));

        Assert.Null(SeekableIndexVerifier.Difference(claimed, actual));
    }

    [Fact]
    public async Task Difference_ForgedEntryOffset_NamesTheEntry()
    {
        var actual = await BuildAsync(1 << 20);
        int victim = actual.Entries.ToList().FindIndex(e => e.Header.Size > 0);
        var entries = actual.Entries.Select((e, i) => i == victim ? e with { DataOffset = e.DataOffset + 512 } : e).ToList();

        string? difference = SeekableIndexVerifier.Difference(new ForgedIndex(actual.Layer, entries, actual.Units), actual);

        Assert.StartsWith($"entry {victim} is ", difference, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Difference_ForgedUnitDigest_NamesTheUnit()
    {
        var actual = await BuildAsync(1 << 20);
        var units = actual.Units.Select((u, i) => i == 2 ? u with { Digest = Digest.Compute("sha256", "forged"u8) } : u).ToList();

        string? difference = SeekableIndexVerifier.Difference(new ForgedIndex(actual.Layer, actual.Entries, units), actual);

        Assert.StartsWith("unit 2 is ", difference, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Difference_OtherSpanSize_NamesTheUnitCount()
    {
        var (claimed, actual) = (await BuildAsync(4 << 20), await BuildAsync(1 << 20));

        Assert.Contains("units, the layer gives", SeekableIndexVerifier.Difference(claimed, actual), StringComparison.Ordinal);
    }

    private static async Task<GzipLayerIndex> BuildAsync(int spanSize)
    {
        var image = await DebianImageCorpus.GetAsync(DebianImageCorpus.Layered);
        var layout = Accelerator.Oci.Layout.OciImageLayout.Open(image.LayoutPath);
        var reference = ImageReference.Parse(image.OciReference);
        var manifest = await layout.GetManifestAsync(reference);
        Descriptor layer = manifest.Manifest!.Layers[1];
        await using var blob = await layout.Blobs.OpenReadAsync(BlobAddress.For(reference.Repository, layer));
        return await GzipIndexBuilder.BuildAsync(blob, layer, new GzipIndexOptions { SpanSize = spanSize });
    }

    private sealed class ForgedIndex(Descriptor layer, IReadOnlyList<SeekableEntry> entries, IReadOnlyList<SeekableUnit> units)
        : SeekableLayerIndex(layer, entries, units)
    {
        public override string Format => "gzip-index";

        public override void Decode(int unitIndex, ReadOnlySpan<byte> encoded, Span<byte> destination) => throw new NotSupportedException();
    }
}

using System.IO.Compression;
using Accelerator.Oci.Layers;
using Accelerator.Oci.Layout;
using Accelerator.Seekable.Tests.Toc;
using Accelerator.Seekable.ZstdChunked;
using Accelerator.Testing;
using Accelerator.Testing.Images;

namespace Accelerator.Seekable.Tests.ZstdChunked;

/// <summary>zstd:chunked layers produced by skopeo (containers/storage's compressor), read through their manifest.</summary>
public sealed class ZstdChunkedLayerIndexTests(ZstdChunkedImageFixture image) : IClassFixture<ZstdChunkedImageFixture>
{
    [Fact]
    public async Task TryOpenAsync_SkopeoZstdChunkedImage_EntriesAndVerifiedContentEqualTheOriginalTar()
    {
        int multiUnitFiles = 0;
        for (int i = 0; i < image.Layers.Count; i++)
        {
            var layer = image.Layers[i];
            Assert.True(ZstdChunkedLayerIndex.Claims(layer));
            var index = await ZstdChunkedLayerIndex.TryOpenAsync(image.Layout.Blobs, BlobAddress.For(string.Empty, layer), layer);
            Assert.NotNull(index);
            Assert.Equal("zstd:chunked", index.Format);

            byte[] blob = image.ReadBlob(layer);
            await using var original = File.OpenRead(image.Original.GetBlobPath(image.OriginalLayers[i].Digest));
            await using var tar = new GZipStream(original, CompressionMode.Decompress);
            var (files, multi) = await TocLayerAssertions.AssertMatchesTarAsync(index, blob, tar, compareOwnerNames: false);
            Assert.True(files > 0);
            multiUnitFiles += multi;
        }

        Assert.True(multiUnitFiles > 0, "No file spans several chunks: the test did not cover chunked files.");
    }

    [Fact]
    public async Task TryOpenAsync_SkopeoZstdChunkedOfEveryEntryKind_EqualsTheTar()
    {
        string directory = Directory.CreateTempSubdirectory("accel-zstdchunked-kinds-").FullName;
        try
        {
            byte[] tarBytes = EntryKindsLayer.Tar();
            await EntryKindsLayer.WriteLayoutAsync(Path.Combine(directory, "source"), tarBytes);
            string converted = Path.Combine(directory, "converted");
            await ZstdChunkedTool.ConvertImageAsync(Path.Combine(directory, "source"), "kinds", converted);
            var layout = OciImageLayout.Open(converted);
            var layer = (await layout.GetManifestAsync(ImageReference.Parse($"oci:{converted}:kinds"))).Manifest!.Layers.Single();

            var index = await ZstdChunkedLayerIndex.TryOpenAsync(layout.Blobs, BlobAddress.For(string.Empty, layer), layer);

            byte[] blob = await File.ReadAllBytesAsync(layout.GetBlobPath(layer.Digest));
            var (files, multi) = await TocLayerAssertions.AssertMatchesTarAsync(index!, blob, new MemoryStream(tarBytes), compareOwnerNames: false);
            Assert.Equal((3, 1), (files, multi));
            Assert.Equal(Enum.GetValues<TarEntryKind>().ToHashSet(), index!.Entries.Select(e => e.Header.Kind).ToHashSet());
            Assert.Equal(2, index.Entries.Single(e => e.Header.Path == "usr/bin/tool").Header.ExtendedAttributes.Count);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public async Task TryOpenAsync_WithoutPositionAnnotation_ReadsTheFooter()
    {
        var layer = image.Layers[1];
        var withoutPosition = layer with
        {
            Annotations = layer.Annotations!.Where(a => !a.Key.EndsWith("manifest-position", StringComparison.Ordinal)).ToDictionary(),
        };
        var fromFooter = await ZstdChunkedLayerIndex.TryOpenAsync(image.Layout.Blobs, BlobAddress.For(string.Empty, withoutPosition), withoutPosition);
        var fromAnnotation = await ZstdChunkedLayerIndex.TryOpenAsync(image.Layout.Blobs, BlobAddress.For(string.Empty, layer), layer);
        Assert.Equal(fromAnnotation!.Units, fromFooter!.Units);
        Assert.Equal(fromAnnotation.Entries.Count, fromFooter.Entries.Count);
    }

    [Fact]
    public async Task TryOpenAsync_LayerWithoutChecksumAnnotation_ReturnsNull()
    {
        var layer = image.Layers[^1] with { Annotations = null };
        Assert.False(ZstdChunkedLayerIndex.Claims(layer));
        Assert.Null(await ZstdChunkedLayerIndex.TryOpenAsync(image.Layout.Blobs, BlobAddress.For(string.Empty, layer), layer));
    }

    [Fact]
    public async Task TryOpenAsync_ManifestChecksumMismatch_ThrowsNamingTheLayer()
    {
        var layer = image.Layers[^1];
        var annotations = layer.Annotations!.ToDictionary();
        annotations[ZstdChunkedLayerIndex.LegacyManifestChecksumAnnotation] = Digest.Compute("another manifest"u8).ToString();
        var lying = layer with { Annotations = annotations };
        var error = await Assert.ThrowsAsync<InvalidDataException>(() => ZstdChunkedLayerIndex.TryOpenAsync(image.Layout.Blobs, BlobAddress.For(string.Empty, lying), lying));
        Assert.Contains("checksum", error.Message);
        Assert.Contains(layer.Digest.ToString(), error.Message);
    }

    [Fact]
    public async Task TryOpenAsync_ManifestBytesChangedInTheBlob_Throws()
    {
        var layer = image.Layers[^1];
        byte[] blob = image.ReadBlob(layer);
        var position = ZstdChunkedLayerIndex.ParsePosition(layer.Annotations![ZstdChunkedLayerIndex.LegacyManifestPositionAnnotation], layer);
        blob[position.Offset + (position.Length / 2)] ^= 0x01;
        var blobs = new InMemoryBlobSource();
        blobs.AddUnverified(layer.Digest, blob);
        var error = await Assert.ThrowsAsync<InvalidDataException>(() => ZstdChunkedLayerIndex.TryOpenAsync(blobs, BlobAddress.For(string.Empty, layer), layer));
        Assert.Contains("checksum", error.Message);
    }

    [Fact]
    public async Task Decode_ChunkBytesChanged_VerificationFails()
    {
        var layer = image.Layers[1];
        byte[] blob = image.ReadBlob(layer);
        var index = (await ZstdChunkedLayerIndex.TryOpenAsync(image.Layout.Blobs, BlobAddress.For(string.Empty, layer), layer))!;
        int unitIndex = Enumerable.Range(0, index.Units.Count).First(i => index.Units[i].CompressedLength > 4096);
        var unit = index.Units[unitIndex];
        Assert.NotNull(TocLayerAssertions.ReadVerifiedUnit(index, unitIndex, blob));

        blob[(int)(unit.CompressedOffset + (unit.CompressedLength / 2))] ^= 0x20;
        var error = Assert.ThrowsAny<InvalidDataException>(() => TocLayerAssertions.ReadVerifiedUnit(index, unitIndex, blob));
        Assert.Contains(layer.Digest.ToString(), error.Message);
    }
}

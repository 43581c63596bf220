using System.IO.Compression;
using Accelerator.Oci.Layers;
using Accelerator.Seekable.Stargz;
using Accelerator.Seekable.Tests.Toc;
using Accelerator.Oci.Model;
using Accelerator.Testing;
using Accelerator.Testing.Images.Estargz;

namespace Accelerator.Seekable.Tests.Stargz;

/// <summary>eStargz layers produced by the reference implementation, read through their TOC.</summary>
public sealed class EstargzLayerIndexTests(EstargzImageFixture image) : IClassFixture<EstargzImageFixture>
{
    [Fact]
    public async Task TryOpenAsync_ReferenceEstargzImage_EntriesAndVerifiedContentEqualTheTar()
    {
        int multiUnitFiles = 0;
        for (int i = 0; i < image.Layers.Count; i++)
        {
            var layer = image.Layers[i];
            Assert.True(EstargzLayerIndex.Claims(layer));
            var index = await EstargzLayerIndex.TryOpenAsync(image.Layout.Blobs, BlobAddress.For(string.Empty, layer), layer);
            Assert.NotNull(index);
            Assert.Equal("estargz", index.Format);
            Assert.Equal(layer.Annotations![EstargzLayerIndex.TocDigestAnnotation], index.TocDigest.ToString());

            byte[] blob = image.ReadBlob(layer);
            // The eStargz blob is a multi-member gzip stream of the layer's tar (TOC entry included; the footer is an empty member).
            using var tar = new GZipStream(new MemoryStream(blob), CompressionMode.Decompress);
            var (files, multi) = await TocLayerAssertions.AssertMatchesTarAsync(index, blob, tar, compareOwnerNames: true);
            Assert.True(files > 0);
            multiUnitFiles += multi;

            Assert.Equal(EstargzLayerIndex.TocName, index.Entries[^1].Header.Path);
            Assert.Contains(index.Entries, e => e.Header.Path is ".prefetch.landmark" or ".no.prefetch.landmark");
        }

        Assert.True(multiUnitFiles > 0, "No file spans several chunks: the test did not cover chunked files.");
    }

    [Fact]
    public async Task TryOpenAsync_ReferenceEstargzOfEveryEntryKind_EqualsTheTar()
    {
        string directory = Directory.CreateTempSubdirectory("accel-estargz-kinds-").FullName;
        try
        {
            string tarPath = Path.Combine(directory, "layer.tar");
            await File.WriteAllBytesAsync(tarPath, EntryKindsLayer.Tar());
            var produced = await EstargzTool.ConvertLayerAsync(tarPath, Path.Combine(directory, "layer.estargz"), new EstargzConversionOptions { ChunkSize = 64 << 10 });
            byte[] blob = await File.ReadAllBytesAsync(Path.Combine(directory, "layer.estargz"));
            var layer = new Descriptor(MediaTypes.OciLayerGzip, produced.Digest, produced.Size)
            {
                Annotations = new Dictionary<string, string> { [EstargzLayerIndex.TocDigestAnnotation] = produced.TocDigest.ToString() },
            };
            var blobs = new InMemoryBlobSource();
            blobs.Add(blob, layer.MediaType);

            var index = await EstargzLayerIndex.TryOpenAsync(blobs, BlobAddress.For(string.Empty, layer), layer);

            using var tar = new GZipStream(new MemoryStream(blob), CompressionMode.Decompress);
            var (files, multi) = await TocLayerAssertions.AssertMatchesTarAsync(index!, blob, tar, compareOwnerNames: true);
            Assert.Equal((5, 1), (files, multi));
            var kinds = index!.Entries.Select(e => e.Header.Kind).ToHashSet();
            Assert.Equal(Enum.GetValues<TarEntryKind>().ToHashSet(), kinds);
            Assert.Equal(2, index.Entries.Single(e => e.Header.Path == "usr/bin/tool").Header.ExtendedAttributes.Count);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public async Task TryOpenAsync_PrioritizedFiles_PrefetchLandmarkInTheLayerThatHasThem()
    {
        var index = await OpenAsync(image.Layers[0]);
        int landmark = index.Entries.ToList().FindIndex(e => e.Header.Path == ".prefetch.landmark");
        int osRelease = index.Entries.ToList().FindIndex(e => e.Header.Path.TrimStart('.', '/') == "etc/os-release");
        Assert.True(landmark > 0 && osRelease >= 0 && osRelease < landmark, $"landmark at {landmark}, etc/os-release at {osRelease}");
    }

    [Fact]
    public async Task TryOpenAsync_LayerWithoutTocAnnotation_ReturnsNull()
    {
        var layer = image.Layers[^1] with { Annotations = null };
        Assert.False(EstargzLayerIndex.Claims(layer));
        Assert.Null(await EstargzLayerIndex.TryOpenAsync(image.Layout.Blobs, BlobAddress.For(string.Empty, layer), layer));
    }

    [Fact]
    public async Task TryOpenAsync_TocDigestMismatch_ThrowsNamingTheAnnotation()
    {
        var layer = image.Layers[^1];
        var lying = layer with { Annotations = new Dictionary<string, string> { [EstargzLayerIndex.TocDigestAnnotation] = Digest.Compute("another TOC"u8).ToString() } };
        var error = await Assert.ThrowsAsync<InvalidDataException>(() => EstargzLayerIndex.TryOpenAsync(image.Layout.Blobs, BlobAddress.For(string.Empty, lying), lying));
        Assert.Contains(EstargzLayerIndex.TocDigestAnnotation, error.Message);
        Assert.Contains(layer.Digest.ToString(), error.Message);
    }

    [Fact]
    public async Task TryOpenAsync_TocBytesChangedInTheBlob_Throws()
    {
        var layer = image.Layers[^1];
        byte[] blob = image.ReadBlob(layer);
        var index = await OpenAsync(layer);
        blob[(int)index.TocOffset + 40] ^= 0x55;
        var blobs = new InMemoryBlobSource();
        blobs.AddUnverified(layer.Digest, blob);
        await Assert.ThrowsAsync<InvalidDataException>(() => EstargzLayerIndex.TryOpenAsync(blobs, BlobAddress.For(string.Empty, layer), layer));
    }

    [Fact]
    public async Task TryOpenAsync_TruncatedFooter_Throws()
    {
        var layer = image.Layers[^1];
        byte[] blob = image.ReadBlob(layer);
        blob[^30] = (byte)'z';
        var blobs = new InMemoryBlobSource();
        blobs.AddUnverified(layer.Digest, blob);
        var error = await Assert.ThrowsAsync<InvalidDataException>(() => EstargzLayerIndex.TryOpenAsync(blobs, BlobAddress.For(string.Empty, layer), layer));
        Assert.Contains("footer", error.Message);
    }

    [Fact]
    public async Task Decode_ChunkBytesChanged_VerificationFails()
    {
        var layer = image.Layers[1];
        byte[] blob = image.ReadBlob(layer);
        var index = await OpenAsync(layer);
        int unitIndex = Enumerable.Range(0, index.Units.Count - 1).First(i => index.Units[i].CompressedLength > 4096);
        var unit = index.Units[unitIndex];
        Assert.NotNull(TocLayerAssertions.ReadVerifiedUnit(index, unitIndex, blob));

        blob[(int)(unit.CompressedOffset + (unit.CompressedLength / 2))] ^= 0x20;
        var error = Assert.ThrowsAny<InvalidDataException>(() => TocLayerAssertions.ReadVerifiedUnit(index, unitIndex, blob));
        Assert.Contains(layer.Digest.ToString(), error.Message);
    }

    [Fact]
    public async Task Decode_TocUnit_IsTheTocJsonWithTheTocDigest()
    {
        var layer = image.Layers[0];
        var index = await OpenAsync(layer);
        byte[] json = TocLayerAssertions.ReadVerifiedUnit(index, index.Units.Count - 1, image.ReadBlob(layer));
        Assert.Equal(index.TocDigest, Digest.Compute(json));
        Assert.Equal(TarEntryKind.RegularFile, index.Entries[^1].Header.Kind);
        Assert.Equal(json.Length, index.Entries[^1].Header.Size);
    }

    private async Task<EstargzLayerIndex> OpenAsync(Descriptor layer) =>
        (await EstargzLayerIndex.TryOpenAsync(image.Layout.Blobs, BlobAddress.For(string.Empty, layer), layer))!;
}

using Accelerator.Oci.Layers;
using Accelerator.Oci.Layout;
using Accelerator.Seekable.Gzip;
using Accelerator.Seekable.Reading;
using Accelerator.Seekable.Stargz;
using Accelerator.Seekable.ZstdChunked;
using Accelerator.Testing;
using Accelerator.Testing.Images;
using Accelerator.Testing.Trees;

namespace Accelerator.Seekable.Tests.Reading;

/// <summary>
/// An image mixing the three seekable formats, from independent producers: the layered corpus image's minbase layer as
/// its original gzip blob (indexed here), its package layer as zstd:chunked (skopeo), its app layer (whiteouts, an
/// opaque directory, links) as eStargz (the reference Go library) and then again as its original gzip blob. The forest
/// over FUSE with the kernel's overlay shows the same tree as <see cref="LayerApplier"/> applying the same four blobs
/// in order.
/// </summary>
public sealed class SeekableMixedFormatMountTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("accel-seekable-mixed-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public async Task Overlay_GzipIndexZstdChunkedAndEstargzLayers_EqualsTheLayersAppliedInOrder()
    {
        var original = await LayersAsync(await DebianImageCorpus.GetAsync(DebianImageCorpus.Layered));
        var zstd = await LayersAsync(await SeekableCorpus.GetZstdChunkedAsync(DebianImageCorpus.Layered));
        var estargz = await LayersAsync(await SeekableCorpus.GetEstargzAsync(DebianImageCorpus.Layered));
        (Descriptor Layer, byte[] Blob)[] blobs = [original[0], zstd[1], estargz[2], original[2]];
        var opened = new InMemoryBlobSource();
        foreach (var (_, blob) in blobs)
        {
            opened.Add(blob);
        }

        SeekableLayerIndex[] indexes =
        [
            await GzipIndexBuilder.BuildAsync(new MemoryStream(blobs[0].Blob), blobs[0].Layer),
            (await ZstdChunkedLayerIndex.TryOpenAsync(opened, Address(blobs[1].Layer), blobs[1].Layer))!,
            (await EstargzLayerIndex.TryOpenAsync(opened, Address(blobs[2].Layer), blobs[2].Layer))!,
            await GzipIndexBuilder.BuildAsync(new MemoryStream(blobs[3].Blob), blobs[3].Layer),
        ];
        Assert.Equal(["gzip-index", "zstd:chunked", "estargz", "gzip-index"], indexes.Select(i => i.Format));
        string applied = Directory.CreateDirectory(Path.Combine(_directory, "applied")).FullName;
        foreach (var (_, blob) in blobs)
        {
            await LayerApplier.ApplyAsync(new MemoryStream(blob), null, applied);
        }

        await using var mounted = await MountedForest.MountAsync(Directory.CreateDirectory(Path.Combine(_directory, "mount")).FullName, [.. indexes.Zip(blobs, (i, b) => (i, b.Blob))]);

        var differences = TreeSnapshot.Compare(TreeSnapshot.Capture(applied), TreeSnapshot.Capture(mounted.Merged));
        Assert.True(differences.Count == 0, string.Join(Environment.NewLine, differences.Take(50)));
        Assert.True(File.Exists(Path.Combine(mounted.Merged, "usr/bin/python3.11")));
        Assert.True(File.Exists(Path.Combine(mounted.Merged, "stargz.index.json")));
        Assert.False(Directory.Exists(Path.Combine(mounted.Merged, "usr/share/doc/python3-minimal")));
    }

    private static BlobAddress Address(Descriptor layer) => new("corpus/layered", layer.Digest, layer.Size);

    private static async Task<(Descriptor Layer, byte[] Blob)[]> LayersAsync(DebianImage image)
    {
        var layout = OciImageLayout.Open(image.LayoutPath);
        var layers = (await layout.GetManifestAsync(ImageReference.Parse(image.OciReference))).Manifest!.Layers;
        return [.. layers.Select(l => (l, File.ReadAllBytes(layout.GetBlobPath(l.Digest))))];
    }
}

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
/// Layers of the three seekable formats, from independent producers, in one forest: the layered corpus image's package
/// layer as its original gzip blob (indexed here), its app layer (whiteouts, an opaque directory, links) as zstd:chunked
/// (skopeo) and again as eStargz (the reference Go library). The forest over FUSE with the kernel's overlay shows the
/// same tree as <see cref="LayerApplier"/> applying the same three blobs in order. (The whole image, base layer
/// included, is mounted through the lazy strategy and compared with umoci in the integration tests.)
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
        (Descriptor Layer, byte[] Blob)[] blobs = [original[1], zstd[2], estargz[2]];
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
        ];
        Assert.Equal(["gzip-index", "zstd:chunked", "estargz"], indexes.Select(i => i.Format));
        string applied = Directory.CreateDirectory(Path.Combine(_directory, "applied")).FullName;
        foreach (var (_, blob) in blobs)
        {
            await LayerApplier.ApplyAsync(new MemoryStream(blob), null, applied);
        }

        await using var mounted = await MountedForest.MountAsync(Directory.CreateDirectory(Path.Combine(_directory, "mount")).FullName, [.. indexes.Zip(blobs, (i, b) => (i, b.Blob))]);

        // Without the base layer, parents no layer lists are made by the applier at apply time and by the forest at time 0
        // (the forest's rule for a directory with none below): only their modification times may differ.
        var listed = indexes.SelectMany(i => i.Entries).Where(e => e.Header.Kind == TarEntryKind.Directory)
            .Select(e => string.Join('/', SeekableLayerTree.SplitPath(e.Header.Path))).ToHashSet();
        var expected = TreeSnapshot.Capture(applied);
        var differences = TreeSnapshot.Compare(expected, TreeSnapshot.Capture(mounted.Merged))
            .Where(d => !(d.Field == "mtime" && expected.Find(d.Path)?.Type == TreeEntryType.Directory && !listed.Contains(d.Path)))
            .ToList();
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

using Accelerator.Lazy.Conversion;
using Accelerator.Lazy.Format;
using Accelerator.Lazy.Tests.Support;
using Accelerator.Oci.Layout;
using Accelerator.Oci.Registry;
using Accelerator.Testing.Images;
using Accelerator.Testing.Trees;

namespace Accelerator.Lazy.Tests.Conversion;

/// <summary>
/// The conformance image (every kind of layer entry, whiteouts, opaque dirs, hard links across layers, sparse files)
/// converted to a lazy image: the tree rebuilt from the bootstrap and chunks alone equals umoci's unpack.
/// </summary>
[Collection(LazyCollection.Name)]
public sealed class LazyConverterConformanceTests(LazyFixture fixture)
{
    private async Task<(LazyConvertResult Result, LazyImage Image, string Layout)> ConvertToLayoutAsync(LazyConvertOptions? options = null)
    {
        string layout = fixture.NewDirectory("layout");
        var source = ImageReference.Parse(fixture.Image.OciReference);
        var target = ImageReference.Parse($"oci:{layout}:conformance-accel");
        var result = await LazyConverter.ConvertAsync(OciImageLayout.Open(fixture.Image.LayoutPath), source, OciImageLayout.OpenOrCreate(layout), target, options);
        var image = await LazyImage.LoadAsync(OciImageLayout.Open(layout), target);
        return (result, image, layout);
    }

    [Fact]
    public async Task ConvertAsync_ConformanceImage_TreeFromChunksEqualsUmociUnpack()
    {
        var (result, image, _) = await ConvertToLayoutAsync();
        string rootfs = fixture.NewDirectory("materialized");

        var report = await TreeMaterializer.MaterializeAsync(image, rootfs);

        var differences = TreeSnapshot.Compare(fixture.ReferenceSnapshot, TreeSnapshot.Capture(rootfs));
        Assert.True(differences.Count == 0, "The lazy image's tree differs from umoci's:\n" + string.Join("\n", differences));
        Assert.True(report.ChunksRead > 0);
        Assert.Equal(result.SourceDigest, image.SourceDigest);
    }

    [Fact]
    public async Task ConvertAsync_ConformanceImage_KeepsEveryItemExactly()
    {
        var (_, image, _) = await ConvertToLayoutAsync();
        LazyBootstrap bootstrap = image.Bootstrap;

        var sparse = bootstrap.LookupPath(ConformancePaths.SparseFile)!;
        Assert.Equal(ConformancePaths.SparseFileSize, sparse.Size);
        // Only the two 4 KiB extents hold data: the holes are not chunks.
        var chunks = bootstrap.GetChunks(sparse.Inode);
        Assert.Equal(2, chunks.Count);
        Assert.Equal([1L << 20, 6L << 20], chunks.Select(c => c.FileOffset));

        var subsecond = bootstrap.LookupPath(ConformancePaths.SubsecondMtimeFile)!;
        var time = bootstrap.GetModificationTime(subsecond.Inode);
        Assert.Equal(ConformancePaths.SubsecondMtime, (time.Seconds * 1_000_000_000L) + time.Nanoseconds);

        Assert.Equal(0x9ED, (int)bootstrap.LookupPath(ConformancePaths.SetuidFile)!.Mode);
        Assert.Equal(0x3FF, (int)bootstrap.LookupPath(ConformancePaths.StickyDirectory)!.Mode);
        var owned = bootstrap.LookupPath(ConformancePaths.OwnedFile)!;
        Assert.Equal((ConformancePaths.UnusualUid, ConformancePaths.UnusualGid), (owned.Uid, owned.Gid));
        Assert.Equal(ConformancePaths.BinaryXattrValue.ToArray(), bootstrap.LookupPath(ConformancePaths.XattrFile)!.ExtendedAttributes!["user.binary"]);

        var links = ConformancePaths.LayerHardlinks.Select(p => bootstrap.LookupPath(p)!).ToList();
        Assert.Single(links.Select(l => l.Inode).Distinct());
        Assert.All(links, l => Assert.Equal(3u, l.LinkCount));
        Assert.Equal("/" + ConformancePaths.LayerHardlinks[1], links[1].Path);
        Assert.Equal(bootstrap.LookupPath(ConformancePaths.CrossLayerTarget)!.Inode, bootstrap.LookupPath(ConformancePaths.CrossLayerHardlink)!.Inode);

        var device = bootstrap.LookupPath(ConformancePaths.BlockDevice)!;
        Assert.Equal((FileEntryType.BlockDevice, 7u, 0u), (device.Type, device.DeviceMajor, device.DeviceMinor));
        Assert.Equal(FileEntryType.Fifo, bootstrap.LookupPath(ConformancePaths.Fifo)!.Type);
        Assert.Equal("../../../etc/passwd", bootstrap.LookupPath(ConformancePaths.EscapingSymlink)!.LinkTarget);
        Assert.NotNull(bootstrap.LookupPath(ConformancePaths.GnuLongPathFile));
        Assert.NotNull(bootstrap.LookupPath(ConformancePaths.LongPathFile));

        Assert.Null(bootstrap.LookupPath(ConformancePaths.WhitedOutFile));
        Assert.Null(bootstrap.LookupPath(ConformancePaths.WhitedOutDirectory));
        Assert.All(ConformancePaths.OpaqueHiddenPaths, p => Assert.Null(bootstrap.LookupPath(p)));
        Assert.NotNull(bootstrap.LookupPath(ConformancePaths.OpaqueNewFile));
        Assert.Equal(FileEntryType.Directory, bootstrap.LookupPath(ConformancePaths.FileReplacedByDirectory)!.Type);
        Assert.Equal(FileEntryType.Regular, bootstrap.LookupPath(ConformancePaths.DirectoryReplacedByFile)!.Type);
        Assert.Null(bootstrap.LookupPath(ConformancePaths.RepackDeletedFile));
        Assert.Equal(0x180, (int)bootstrap.LookupPath(ConformancePaths.RepackChmodFile)!.Mode);
    }

    [Fact]
    public async Task ConvertAsync_Twice_SameManifestDigest()
    {
        var (first, _, _) = await ConvertToLayoutAsync();
        var (second, _, _) = await ConvertToLayoutAsync();

        Assert.Equal(first.ManifestDigest, second.ManifestDigest);
    }

    [Fact]
    public async Task ConvertAsync_DifferentParallelismAndChunkSpool_SameManifestDigest()
    {
        var (one, _, _) = await ConvertToLayoutAsync(new LazyConvertOptions { MaxParallelism = 1 });
        var (four, _, _) = await ConvertToLayoutAsync(new LazyConvertOptions { MaxParallelism = 4 });

        Assert.Equal(one.ManifestDigest, four.ManifestDigest);
    }

    [Fact]
    public async Task ConvertAsync_RegistryToRegistry_SkopeoSeesOurMediaTypes()
    {
        await fixture.Image.PushAsync(fixture.Registry.Host, "lazy/conformance", PushManifestFormat.DockerV2Schema2);
        using var client = new RegistryClient(new RegistryOptions { PlainHttp = true });
        var source = ImageReference.Parse($"{fixture.Registry.Host}/lazy/conformance:{fixture.Image.Tag}");
        var target = LazyConverter.DefaultTarget(source);
        var store = client.GetStore(fixture.Registry.Host);

        var result = await LazyConverter.ConvertAsync(store, source, store, target);

        Assert.Equal($"{fixture.Image.Tag}-accel", target.Tag);
        string raw = await ExternalTool.RunAsync("skopeo", ["inspect", "--tls-verify=false", "--raw", $"docker://{target}"]);
        Assert.Equal(result.ManifestDigest, Digest.Compute(System.Text.Encoding.UTF8.GetBytes(raw)));
        Assert.Contains(LazyFormat.BootstrapMediaType, raw);
        Assert.Contains(LazyFormat.ChunksMediaType, raw);
        Assert.Contains($"\"{LazyFormat.SourceDigestAnnotation}\":\"{result.SourceDigest}\"", raw);

        // The lazy image loads back from the registry and its tree is complete.
        var image = await LazyImage.LoadAsync(store, target);
        string rootfs = fixture.NewDirectory("from-registry");
        await TreeMaterializer.MaterializeAsync(image, rootfs);
        Assert.Empty(TreeSnapshot.Compare(fixture.ReferenceSnapshot, TreeSnapshot.Capture(rootfs)));

        // The config is the source's, so a runtime still knows the entrypoint and environment.
        var sourceManifest = await store.GetManifestAsync(source);
        Assert.Equal(sourceManifest.Manifest!.Config.Digest, image.Image.ImageManifest.Config.Digest);
    }
}

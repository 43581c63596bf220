using System.Formats.Tar;
using Accelerator.Oci.Layout;
using Accelerator.Oci.Model;
using Accelerator.Testing.Tar;
using Accelerator.Testing.Trees;

namespace Accelerator.Snapshots.Tests.Issues;

/// <summary>
/// Issue 12, A1 (audit): the snapshot store's disk-usage walk followed an image's symbolic links out of the layer tree
/// (into <c>/proc</c>, a host directory, or up with <c>..</c>), counting host files as the snapshot's size; the archive
/// export must keep links as links.
/// </summary>
public sealed class Issue12_SymlinkWalkTests : IDisposable
{
    private readonly string _work = Directory.CreateTempSubdirectory("accel-issue12-store-").FullName;

    public void Dispose() => Directory.Delete(_work, recursive: true);

    [Fact]
    public async Task WarmAsync_LayerWithDangerousLinks_SizeCountsOnlyTheTree()
    {
        string outside = Path.Combine(_work, "outside");
        DangerousLinks.CreateOutside(outside);
        byte[] tar = DangerousLinks.AddTo(new TarBuilder(), outside).ToArray();
        var image = await WriteImageAsync(Path.Combine(_work, "layout"), "links", tar);
        var store = SnapshotStore.Open(new SnapshotStoreOptions { Root = Path.Combine(_work, "store") });

        var warm = await store.WarmAsync(OciImageLayout.Open(Path.Combine(_work, "layout")), image);

        Assert.True(warm.Snapshot.SizeBytes < DangerousLinks.OutsideFileSize,
            $"the snapshot's size ({warm.Snapshot.SizeBytes} bytes) counts what its links point at");
        string mountPoint = Directory.CreateDirectory(Path.Combine(_work, "mnt")).FullName;
        await using (await store.MountAsync(OciImageLayout.Open(Path.Combine(_work, "layout")), image, mountPoint))
        {
            var listed = TreeSnapshot.Capture(mountPoint, hashContent: false).Entries.Keys.Where(p => p != ".");
            Assert.Equal(DangerousLinks.Paths.Order(StringComparer.Ordinal), listed.Order(StringComparer.Ordinal));
        }
    }

    [Fact]
    public async Task ExportAsync_LayerWithDangerousLinks_ArchiveHoldsLinksAsLinks()
    {
        string outside = Path.Combine(_work, "outside");
        DangerousLinks.CreateOutside(outside);
        byte[] tar = DangerousLinks.AddTo(new TarBuilder(), outside).ToArray();
        var image = await WriteImageAsync(Path.Combine(_work, "layout"), "links", tar);
        var store = SnapshotStore.Open(new SnapshotStoreOptions { Root = Path.Combine(_work, "store") });
        var layout = OciImageLayout.Open(Path.Combine(_work, "layout"));
        var warm = await store.WarmAsync(layout, image);

        // Archives carry the image's own layer blobs (verified against the layout), not a walk of the unpacked tree.
        using var archive = new MemoryStream();
        await store.ExportAsync(warm.Snapshot.ManifestDigest, archive, layout, image);

        Assert.True(archive.Length < DangerousLinks.OutsideFileSize, $"the archive ({archive.Length} bytes) holds what a link points at");
        archive.Position = 0;
        var entries = new Dictionary<string, TarEntryType>(StringComparer.Ordinal);
        using (var outer = new TarReader(archive))
        {
            while (outer.GetNextEntry() is { } entry)
            {
                if (entry.Name == "layers/0")
                {
                    using var inner = new TarReader(entry.DataStream!);
                    while (inner.GetNextEntry() is { } item)
                    {
                        string itemName = item.Name.TrimEnd('/');
                        entries[itemName == "." ? string.Empty : itemName.StartsWith("./", StringComparison.Ordinal) ? itemName[2..] : itemName] = item.EntryType;
                    }
                }
            }
        }

        entries.Remove(string.Empty);
        Assert.Equal(DangerousLinks.Paths.Order(StringComparer.Ordinal), entries.Keys.Order(StringComparer.Ordinal));
        Assert.All(DangerousLinks.Links, link => Assert.Equal(TarEntryType.SymbolicLink, entries[link.Path]));
    }

    private static async Task<ImageReference> WriteImageAsync(string layoutPath, string tag, byte[] layerTar)
    {
        var layout = OciImageLayout.OpenOrCreate(layoutPath);
        var layer = Descriptor.FromContent(MediaTypes.OciLayer, layerTar);
        await layout.PushBlobAsync(layer, new MemoryStream(layerTar));
        var config = new ImageConfig
        {
            Architecture = Platform.Current.Architecture,
            Os = "linux",
            Rootfs = new RootFs { DiffIds = [Digest.Compute(layerTar)] },
        };
        byte[] configBytes = OciJson.Serialize(config);
        var configDescriptor = Descriptor.FromContent(MediaTypes.OciConfig, configBytes);
        await layout.PushBlobAsync(configDescriptor, new MemoryStream(configBytes));
        await layout.PushManifestAsync(ManifestDocument.From(new ImageManifest { Config = configDescriptor, Layers = [layer] }), tag);
        return ImageReference.Parse($"oci:{layoutPath}:{tag}");
    }
}

using Accelerator.Oci.Layout;
using Accelerator.Testing.Samples;
using Accelerator.Snapshots;
using Accelerator.Testing.Host;

namespace Accelerator.Snapshots.Tests.Issues;

/// <summary>
/// Issue 12, B15: a warm that runs out of space (ENOSPC, a small tmpfs) must leave no layer or snapshot that this or a
/// later process takes for complete; once there is room the same warm succeeds and mounts the whole image.
/// </summary>
public sealed class Issue12_SnapshotStoreDiskFullTests : IDisposable
{
    private readonly string _temp = Directory.CreateTempSubdirectory("accel-issue12-warmfill-").FullName;

    public void Dispose() => Directory.Delete(_temp, recursive: true);

    [Fact]
    public async Task WarmAsync_DiskFull_LeavesNoSnapshotOrLayerAndRetryWithRoomSucceeds()
    {
        var image = await SampleImageGenerator.WriteLayoutAsync(Path.Combine(_temp, "layout"), new SampleImageOptions { LayerCount = 4, TotalSize = 4 * 1024 * 1024, CompressibleFraction = 0 });
        var reference = ImageReference.Parse(image.OciReference);
        using var disk = SmallTmpfs.Mount(5 * 1024 * 1024);
        var options = new SnapshotStoreOptions { Root = Path.Combine(disk.Path, "store") };

        await Assert.ThrowsAnyAsync<IOException>(() => SnapshotStore.Open(options).WarmAsync(OciImageLayout.Open(image.LayoutPath), reference));

        // A restart (open again) finds nothing half-written to offer.
        var store = SnapshotStore.Open(options);
        Assert.Empty(store.List());
        Assert.Null(store.Find(image.Manifest.Digest));
        Assert.Empty(Directory.EnumerateFileSystemEntries(Path.Combine(options.Root, "layers")));
        Assert.Empty(Directory.EnumerateFileSystemEntries(Path.Combine(options.Root, "staging")));

        disk.Resize(64 * 1024 * 1024);
        var warm = await store.WarmAsync(OciImageLayout.Open(image.LayoutPath), reference);
        string mountPoint = Directory.CreateDirectory(Path.Combine(_temp, "mnt")).FullName;
        await using (await store.MountAsync(warm.Snapshot.ManifestDigest, reference, mountPoint, readOnly: true))
        {
            Assert.All(image.Files, f => Assert.Equal(f.Value, new FileInfo(Path.Combine(mountPoint, f.Key)).Length));
        }
    }
}

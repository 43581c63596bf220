using Accelerator.Oci.Registry;
using Accelerator.Testing.Samples;
using Accelerator.Snapshots.Tests.Support;
using Accelerator.Testing.Trees;

namespace Accelerator.Snapshots.Tests.Store;

/// <summary>Crash safety: what a killed warm or a corrupt store leaves is removed on open, and never mounted.</summary>
[Collection(SnapshotCollection.Name)]
public sealed class RecoveryTests(SnapshotFixture fixture) : IDisposable
{
    private readonly RegistryClient _client = new(new RegistryOptions { PlainHttp = true });
    private readonly string _work = fixture.NewDirectory("recovery");

    public void Dispose()
    {
        _client.Dispose();
        Directory.Delete(_work, recursive: true);
    }

    private string Root => Path.Combine(_work, "cache");

    private SnapshotStore OpenStore() => SnapshotStore.Open(new SnapshotStoreOptions { Root = Root });

    private string NewMountPoint() => Directory.CreateDirectory(Path.Combine(_work, "mnt-" + Guid.NewGuid().ToString("N")[..8])).FullName;

    private async Task<(ImageReference Image, TreeSnapshot Reference, Digest Digest)> WarmSmallAsync(SnapshotStore store)
    {
        var (image, reference) = await fixture.SampleAsync("small", new SampleImageOptions { LayerCount = 2, TotalSize = 2L << 20, Seed = 3 });
        var warmed = await store.WarmAsync(_client.GetStore(image.Registry), image);
        return (image, reference, warmed.Snapshot.ManifestDigest);
    }

    [Fact]
    public async Task Open_AfterKill9DuringWarm_RemovesPartialAndNextWarmSucceeds()
    {
        var (image, reference) = await fixture.SampleAsync("large", new SampleImageOptions { LayerCount = 4, TotalSize = 80L << 20, Seed = 7 });
        using var child = CliRunner.Start("cache", "warm", image.ToString(), "--cache-dir", Root, "--plain-http");
        string staging = Path.Combine(Root, "staging");

        // Kill it while it unpacks a layer into an overlay over the layers below.
        while (!child.HasExited && !IsUnpackingIntoOverlay(staging))
        {
            await Task.Delay(5);
        }

        Assert.False(child.HasExited, "The warm ended before it could be killed.");
        child.Kill();
        await child.WaitForExitAsync();

        var store = OpenStore();

        Assert.Equal(1, store.Recovery.StagingRemoved);
        Assert.Empty(store.List());
        Assert.Empty(Directory.EnumerateFileSystemEntries(staging));
        Assert.DoesNotContain(File.ReadLines("/proc/self/mountinfo"), line => line.Contains(Root, StringComparison.Ordinal));
        await Assert.ThrowsAsync<SnapshotNotFoundException>(() => store.MountAsync(_client.GetStore(image.Registry), image, NewMountPoint(), new SnapshotMountOptions { TopUp = false }));

        var warmed = await store.WarmAsync(_client.GetStore(image.Registry), image);
        string mountPoint = NewMountPoint();
        await using (await store.MountAsync(_client.GetStore(image.Registry), image, mountPoint))
        {
            var differences = TreeSnapshot.Compare(reference, TreeSnapshot.Capture(mountPoint));
            Assert.True(differences.Count == 0, string.Join("\n", differences.Take(10)));
        }

        // Layers the killed warm had published are reused, not fetched again.
        Assert.True(warmed.LayersReused >= 1);
    }

    [Fact]
    public async Task Open_TruncatedSnapshotRecord_RemovedAndNeverMounted()
    {
        var (image, _, digest) = await WarmSmallAsync(OpenStore());
        await File.WriteAllTextAsync(Path.Combine(Root, "images", digest.Encoded + ".json"), "{\"version\":1,\"manif");

        var store = OpenStore();

        Assert.Equal(1, store.Recovery.SnapshotsRemoved);
        Assert.Empty(store.List());
        await Assert.ThrowsAsync<SnapshotNotFoundException>(() => store.MountAsync(digest, image, NewMountPoint()));
    }

    [Fact]
    public async Task Open_LayerWithoutMetadata_LayerAndSnapshotRemoved()
    {
        var first = OpenStore();
        var (_, _, digest) = await WarmSmallAsync(first);
        var chain = first.Find(digest)!.ChainIds;
        File.Delete(Path.Combine(Root, "layers", chain[^1].Encoded, "layer.json"));

        var store = OpenStore();

        Assert.Equal(1, store.Recovery.LayersRemoved);
        Assert.Equal(1, store.Recovery.SnapshotsRemoved);
        Assert.Null(store.Find(digest));
    }

    [Fact]
    public async Task Open_CloneUnmountedOutside_StaleCloneRemoved()
    {
        var first = OpenStore();
        var (image, _, digest) = await WarmSmallAsync(first);
        string mountPoint = NewMountPoint();
        var mounted = await first.MountAsync(_client.GetStore(image.Registry), image, mountPoint);
        await File.WriteAllTextAsync(Path.Combine(mountPoint, "written"), "data");

        // What 'accel umount' does to a clone mounted by 'accel cache mount' (whose process has exited).
        Assert.Equal(0, (await CliRunner.RunAsync("umount", mountPoint)).ExitCode);
        var store = OpenStore();

        Assert.Equal(1, store.Recovery.MountsRemoved);
        Assert.Empty(Directory.EnumerateDirectories(Path.Combine(Root, "mounts")));
        Assert.False(store.Find(digest)!.Mounted);
        GC.KeepAlive(mounted);
    }

    // The warm renames staging directories away as it publishes layers: a directory seen a moment ago may be gone.
    private static bool IsUnpackingIntoOverlay(string staging)
    {
        try
        {
            return Directory.Exists(staging) && Directory.EnumerateDirectories(staging).Any(d => Directory.EnumerateDirectories(d, "mnt-*").Any());
        }
        catch (DirectoryNotFoundException)
        {
            return false;
        }
    }
}

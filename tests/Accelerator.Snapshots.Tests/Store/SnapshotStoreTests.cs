using Accelerator.Oci.Registry;
using Accelerator.Testing.Samples;
using Accelerator.Snapshots.Tests.Support;
using Accelerator.Testing.Trees;

namespace Accelerator.Snapshots.Tests.Store;

/// <summary><see cref="SnapshotStore"/> against a real registry: warm, clone, compare with umoci, copy-on-write, top-up.</summary>
[Collection(SnapshotCollection.Name)]
public sealed class SnapshotStoreTests(SnapshotFixture fixture) : IDisposable
{
    private readonly RegistryClient _client = new(new RegistryOptions { PlainHttp = true });
    private readonly string _work = fixture.NewDirectory("store");

    public void Dispose()
    {
        _client.Dispose();
        Directory.Delete(_work, recursive: true);
    }

    private SnapshotStore OpenStore(string name = "cache") => SnapshotStore.Open(new SnapshotStoreOptions { Root = Path.Combine(_work, name) });

    private string NewMountPoint() => Directory.CreateDirectory(Path.Combine(_work, "mnt-" + Guid.NewGuid().ToString("N")[..8])).FullName;

    private CountingImageStore Registry(ImageReference image) => new(_client.GetStore(image.Registry));

    [Fact]
    public async Task WarmAsync_ThenMountAsync_ConformanceImage_TreeEqualsUmociUnpack()
    {
        var store = OpenStore();
        var image = fixture.ConformanceReference;

        var warm = await store.WarmAsync(Registry(image), image);
        string mountPoint = NewMountPoint();
        await using (var mounted = await store.MountAsync(Registry(image), image, mountPoint))
        {
            var differences = TreeSnapshot.Compare(fixture.ReferenceSnapshot, TreeSnapshot.Capture(mountPoint));

            Assert.True(differences.Count == 0, "The clone differs from umoci's unpack:\n" + string.Join("\n", differences));
            Assert.Equal(Strategy.Cache, mounted.Statistics.Strategy);
            Assert.Equal(warm.Snapshot.ManifestDigest, mounted.ManifestDigest);
            Assert.True(store.Find(warm.Snapshot.ManifestDigest)!.Mounted);
        }

        Assert.Empty(Directory.EnumerateFileSystemEntries(mountPoint));
        Assert.False(store.Find(warm.Snapshot.ManifestDigest)!.Mounted);
    }

    [Fact]
    public Task WarmAsync_ThenMountAsync_80MBSample_TreeEqualsUmociUnpack()
        => WarmThenMountEqualsUmociAsync("large", layers: 4, size: 80L << 20, seed: 7);

    [Fact]
    public Task WarmAsync_ThenMountAsync_1GBSample_TreeEqualsUmociUnpack()
        => WarmThenMountEqualsUmociAsync("1g", layers: 5, size: 1L << 30, seed: 17);

    private async Task WarmThenMountEqualsUmociAsync(string name, int layers, long size, int seed)
    {
        var (image, reference) = await fixture.SampleAsync(name, new SampleImageOptions { LayerCount = layers, TotalSize = size, Seed = seed });
        var store = OpenStore();

        var warm = await store.WarmAsync(Registry(image), image);
        string mountPoint = NewMountPoint();
        await using (await store.MountAsync(Registry(image), image, mountPoint, new SnapshotMountOptions { ReadOnly = true }))
        {
            var differences = TreeSnapshot.Compare(reference, TreeSnapshot.Capture(mountPoint));

            Assert.True(differences.Count == 0, "The clone differs from umoci's unpack:\n" + string.Join("\n", differences.Take(20)));
        }

        Assert.Equal(layers, warm.LayersFetched);
        Assert.True(warm.Snapshot.SizeBytes >= size);
    }

    [Fact]
    public async Task MountAsync_WritesInClone_SnapshotAndOtherClonesUnchanged()
    {
        var (image, reference) = await fixture.SampleAsync("small", new SampleImageOptions { LayerCount = 2, TotalSize = 2L << 20, Seed = 3 });
        var store = OpenStore();
        await store.WarmAsync(Registry(image), image);
        string first = NewMountPoint();
        string second = NewMountPoint();
        string victim = reference.Entries.Keys.First(p => reference[p].Type == TreeEntryType.RegularFile);

        await using (var writable = await store.MountAsync(Registry(image), image, first))
        await using (await store.MountAsync(Registry(image), image, second))
        {
            await File.WriteAllTextAsync(Path.Combine(first, victim), "changed");
            File.Delete(Path.Combine(first, reference.Entries.Keys.Last(p => reference[p].Type == TreeEntryType.RegularFile)));
            await File.WriteAllTextAsync(Path.Combine(first, "new-file"), "new");

            var differences = TreeSnapshot.Compare(reference, TreeSnapshot.Capture(second));
            Assert.True(differences.Count == 0, string.Join("\n", differences));
            Assert.True(File.Exists(Path.Combine(writable.UpperDirectory!, "new-file")));
        }

        string third = NewMountPoint();
        await using (await store.MountAsync(Registry(image), image, third))
        {
            var differences = TreeSnapshot.Compare(reference, TreeSnapshot.Capture(third));
            Assert.True(differences.Count == 0, string.Join("\n", differences));
        }
    }

    [Fact]
    public async Task MountAsync_SharesLowerLayersWithSnapshot_FetchesOnlyMissingLayer()
    {
        // Same seed and 1 MiB per layer: the three-layer image's first two layers are the two-layer image's.
        var (two, _) = await fixture.SampleAsync("base2", new SampleImageOptions { LayerCount = 2, TotalSize = 2L << 20, Seed = 11 });
        var (three, reference) = await fixture.SampleAsync("base3", new SampleImageOptions { LayerCount = 3, TotalSize = 3L << 20, Seed = 11 });
        var store = OpenStore();
        await store.WarmAsync(Registry(two), two);
        var registry = Registry(three);

        var match = await store.MatchAsync(registry, three);
        string mountPoint = NewMountPoint();
        await using (var mounted = await store.MountAsync(registry, three, mountPoint))
        {
            var differences = TreeSnapshot.Compare(reference, TreeSnapshot.Capture(mountPoint));
            Assert.True(differences.Count == 0, string.Join("\n", differences));
            Assert.Equal(1, mounted.Statistics.ChunksFetched);
        }

        Assert.Equal(SnapshotMatchKind.Prefix, match.Kind);
        Assert.Equal(2, match.SharedLayers);
        var manifest = (await registry.GetManifestAsync(three)).Manifest!;
        Assert.Equal([0, 0, 1], manifest.Layers.Select(l => registry.OpenCount(l.Digest)));
    }

    [Fact]
    public async Task MountAsync_ByDigestRegistryUnreachable_ClonesWithoutRegistry()
    {
        var (image, reference) = await fixture.SampleAsync("small", new SampleImageOptions { LayerCount = 2, TotalSize = 2L << 20, Seed = 3 });
        var store = OpenStore();
        var warm = await store.WarmAsync(Registry(image), image);
        // Nothing listens on port 1: any registry request would fail.
        var pinned = ImageReference.Parse($"127.0.0.1:1/samples/small@{warm.Snapshot.ManifestDigest}");
        string mountPoint = NewMountPoint();

        await using (var mounted = await store.MountAsync(_client.GetStore(pinned.Registry), pinned, mountPoint))
        {
            var differences = TreeSnapshot.Compare(reference, TreeSnapshot.Capture(mountPoint));
            Assert.True(differences.Count == 0, string.Join("\n", differences));
            Assert.Equal(0, mounted.Statistics.BytesFetched);
        }

        var tagged = ImageReference.Parse("127.0.0.1:1/samples/small:latest");
        await Assert.ThrowsAnyAsync<Exception>(() => store.MountAsync(_client.GetStore(tagged.Registry), tagged, NewMountPoint()));
    }

    [Theory]
    [InlineData(true, 1)]
    [InlineData(false, 0)]
    public async Task MountAsync_ByTag_ResolvesAtRegistryOnlyWhenResolveTags(bool resolveTags, int headRequests)
    {
        var (image, _) = await fixture.SampleAsync("small", new SampleImageOptions { LayerCount = 2, TotalSize = 2L << 20, Seed = 3 });
        var root = Path.Combine(_work, "cache");
        await OpenStore().WarmAsync(Registry(image), image);
        var store = SnapshotStore.Open(new SnapshotStoreOptions { Root = root, ResolveTags = resolveTags });
        var registry = Registry(image);

        await using (var mounted = await store.MountAsync(registry, image, NewMountPoint()))
        {
            Assert.Equal(Strategy.Cache, mounted.Statistics.Strategy);
        }

        // A tag naming a manifest the store has a snapshot of costs one HEAD: no manifest body, no config, no blob.
        Assert.Equal(headRequests, registry.DescriptorRequests);
        Assert.Equal(0, registry.ManifestRequests);
        Assert.Empty(registry.Opened);
    }

    [Fact]
    public async Task MountAsync_TagMovedToImageWithoutSnapshot_ResolvesInFullAndTopsUp()
    {
        // Same seed: the three-layer image shares the two-layer image's layers; the tag first names two, then three.
        var (two, _) = await fixture.SampleAsync("moving2", new SampleImageOptions { LayerCount = 2, TotalSize = 2L << 20, Seed = 21 });
        var (three, reference) = await fixture.SampleAsync("moving3", new SampleImageOptions { LayerCount = 3, TotalSize = 3L << 20, Seed = 21 });
        var tag = ImageReference.Parse($"{two.Registry}/samples/moving:v");
        var origin = _client.GetStore(tag.Registry);
        await Accelerator.Oci.Copying.ImageCopier.CopyAsync(origin, two, origin, tag);
        var store = OpenStore();
        await store.WarmAsync(Registry(tag), tag);
        await Accelerator.Oci.Copying.ImageCopier.CopyAsync(origin, three, origin, tag);
        var registry = Registry(tag);

        Assert.Null(await store.TryFindCurrentAsync(registry, tag));
        await using (var mounted = await store.MountAsync(registry, tag, NewMountPoint()))
        {
            var differences = TreeSnapshot.Compare(reference, TreeSnapshot.Capture(mounted.MountPoint));
            Assert.True(differences.Count == 0, string.Join("\n", differences));
            Assert.Equal((await origin.GetManifestAsync(three)).Digest, mounted.ManifestDigest);
        }

        Assert.NotNull(await store.TryFindCurrentAsync(registry, tag));
    }

    [Fact]
    public async Task MountAsync_NothingShared_ThrowsSnapshotNotFound()
    {
        var store = OpenStore();
        var image = fixture.ConformanceReference;

        var match = await store.MatchAsync(Registry(image), image);
        var error = await Assert.ThrowsAsync<SnapshotNotFoundException>(() => store.MountAsync(Registry(image), image, NewMountPoint()));

        Assert.Equal(SnapshotMatchKind.None, match.Kind);
        Assert.Contains("none shares a layer", error.Message);
    }

    [Fact]
    public async Task WarmAsync_Twice_SecondFetchesNothing()
    {
        var (image, _) = await fixture.SampleAsync("small", new SampleImageOptions { LayerCount = 2, TotalSize = 2L << 20, Seed = 3 });
        var store = OpenStore();

        var first = await store.WarmAsync(Registry(image), image);
        var second = await store.WarmAsync(Registry(image), image);

        Assert.Equal(2, first.LayersFetched);
        Assert.Equal(0, second.LayersFetched);
        Assert.Equal(0, second.BytesFetched);
        Assert.Single(store.List());
    }
}

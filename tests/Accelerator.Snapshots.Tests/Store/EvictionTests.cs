using Accelerator.Oci.Registry;
using Accelerator.Testing.Samples;
using Accelerator.Snapshots.Tests.Support;
using Microsoft.Extensions.Time.Testing;

namespace Accelerator.Snapshots.Tests.Store;

/// <summary>Capacity (LRU) and time-to-live eviction; mounted snapshots are never evicted.</summary>
[Collection(SnapshotCollection.Name)]
public sealed class EvictionTests(SnapshotFixture fixture) : IDisposable
{
    // 1 MiB of files per image: three images take over 3 MiB on disk, two fit in 2.6 MiB.
    private const long Capacity = 2_600L * 1024;

    private readonly RegistryClient _client = new(new RegistryOptions { PlainHttp = true });
    private readonly string _work = fixture.NewDirectory("eviction");
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2030, 1, 1, 0, 0, 0, TimeSpan.Zero));

    public void Dispose()
    {
        _client.Dispose();
        Directory.Delete(_work, recursive: true);
    }

    private SnapshotStore OpenStore(long capacity = Capacity, TimeSpan? ttl = null)
        => SnapshotStore.Open(new SnapshotStoreOptions { Root = Path.Combine(_work, "cache"), CapacityBytes = capacity, TimeToLive = ttl }, timeProvider: _time);

    private async Task<(ImageReference Image, Digest Digest)> WarmAsync(SnapshotStore store, string name, int seed)
    {
        var (image, _) = await fixture.SampleAsync(name, new SampleImageOptions { LayerCount = 1, TotalSize = 1L << 20, Seed = seed, CompressibleFraction = 0 });
        var warmed = await store.WarmAsync(_client.GetStore(image.Registry), image);
        _time.Advance(TimeSpan.FromMinutes(1));
        return (image, warmed.Snapshot.ManifestDigest);
    }

    private string NewMountPoint() => Directory.CreateDirectory(Path.Combine(_work, "mnt-" + Guid.NewGuid().ToString("N")[..8])).FullName;

    [Fact]
    public async Task WarmAsync_OverCapacity_EvictsLeastRecentlyUsed()
    {
        var store = OpenStore();
        var (a, digestA) = await WarmAsync(store, "lru-a", 21);
        var (_, digestB) = await WarmAsync(store, "lru-b", 22);
        // Using A makes B the least recently used.
        await (await store.MountAsync(_client.GetStore(a.Registry), a, NewMountPoint())).DisposeAsync();
        _time.Advance(TimeSpan.FromMinutes(1));

        var (_, digestC) = await WarmAsync(store, "lru-c", 23);

        var left = store.List().Select(s => s.ManifestDigest).ToHashSet();
        Assert.Equal(new HashSet<Digest> { digestA, digestC }, left);
        Assert.DoesNotContain(digestB, left);
        Assert.True(store.UsedBytes() <= Capacity);
    }

    [Fact]
    public async Task WarmAsync_OverCapacity_KeepsMountedLeastRecentlyUsed()
    {
        var store = OpenStore();
        var (a, digestA) = await WarmAsync(store, "lru-a", 21);
        await using var mounted = await store.MountAsync(_client.GetStore(a.Registry), a, NewMountPoint());
        _time.Advance(TimeSpan.FromMinutes(1));
        var (_, digestB) = await WarmAsync(store, "lru-b", 22);
        var (_, digestC) = await WarmAsync(store, "lru-c", 23);

        var left = store.List().Select(s => s.ManifestDigest).ToHashSet();

        // A is the least recently used but mounted: B goes instead.
        Assert.Equal(new HashSet<Digest> { digestA, digestC }, left);
        Assert.DoesNotContain(digestB, left);
        Assert.True(File.Exists(Path.Combine(mounted.MountPoint, "layer0", "dir0", "file00000.bin")));
    }

    [Fact]
    public async Task PruneAsync_PastTimeToLive_EvictsUnusedKeepsMounted()
    {
        var store = OpenStore(capacity: 0, ttl: TimeSpan.FromHours(1));
        var (a, digestA) = await WarmAsync(store, "lru-a", 21);
        var (_, digestB) = await WarmAsync(store, "lru-b", 22);
        await using var mounted = await store.MountAsync(_client.GetStore(a.Registry), a, NewMountPoint());
        _time.Advance(TimeSpan.FromHours(2));

        int evicted = await store.PruneAsync();

        Assert.Equal(1, evicted);
        Assert.Equal([digestA], store.List().Select(s => s.ManifestDigest));
        Assert.Null(store.Find(digestB));
    }

    [Fact]
    public async Task EvictAsync_Mounted_ThrowsAndKeeps()
    {
        var store = OpenStore(capacity: 0);
        var (a, digestA) = await WarmAsync(store, "lru-a", 21);
        await using (await store.MountAsync(_client.GetStore(a.Registry), a, NewMountPoint()))
        {
            await Assert.ThrowsAsync<InvalidOperationException>(() => store.EvictAsync(digestA));
            Assert.NotNull(store.Find(digestA));
        }

        Assert.True(await store.EvictAsync(digestA));
        Assert.Empty(store.List());
        Assert.Equal(0, store.UsedBytes());
    }
}

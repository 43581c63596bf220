using Accelerator.Oci.Registry;
using Accelerator.Testing.Samples;
using Accelerator.Snapshots.Tests.Support;
using Accelerator.Testing.Trees;

namespace Accelerator.Snapshots.Tests.Store;

/// <summary>Warms and mounts of one image at once share one pull, within a process and across store instances (processes).</summary>
[Collection(SnapshotCollection.Name)]
public sealed class ConcurrencyTests(SnapshotFixture fixture) : IDisposable
{
    private readonly RegistryClient _client = new(new RegistryOptions { PlainHttp = true });
    private readonly string _work = fixture.NewDirectory("concurrency");

    public void Dispose()
    {
        _client.Dispose();
        Directory.Delete(_work, recursive: true);
    }

    private SnapshotStore OpenStore() => SnapshotStore.Open(new SnapshotStoreOptions { Root = Path.Combine(_work, "cache") });

    [Fact]
    public async Task WarmAsync_TwoStoresOnOneRootAtOnce_EachLayerFetchedOnce()
    {
        var (image, _) = await fixture.SampleAsync("shared", new SampleImageOptions { LayerCount = 3, TotalSize = 24L << 20, Seed = 5 });
        var registry = new CountingImageStore(_client.GetStore(image.Registry));
        // Two instances hold separate lock descriptors, exactly as two processes would.
        var first = OpenStore();
        var second = OpenStore();

        var results = await Task.WhenAll(first.WarmAsync(registry, image), second.WarmAsync(registry, image), first.WarmAsync(registry, image));

        var manifest = (await registry.GetManifestAsync(image)).Manifest!;
        Assert.True(manifest.Layers.All(l => registry.OpenCount(l.Digest) == 1), string.Join(", ", results.Select(r => $"{r.LayersFetched}/{r.LayersReused}/{r.Elapsed.TotalMilliseconds}")));
        // The first store's two warms share one task; the second store found the first's snapshot.
        Assert.Equal(3, results[0].LayersFetched + results[1].LayersFetched);
        Assert.Same(results[0], results[2]);
        Assert.Single(results.Select(r => r.Snapshot.ManifestDigest).Distinct());
    }

    [Fact]
    public async Task MountAsync_WhileAnotherStoreWarms_WaitsAndSharesThePull()
    {
        var (image, reference) = await fixture.SampleAsync("shared", new SampleImageOptions { LayerCount = 3, TotalSize = 24L << 20, Seed = 5 });
        var registry = new CountingImageStore(_client.GetStore(image.Registry));
        var warmer = OpenStore();
        var mounter = OpenStore();

        var warm = warmer.WarmAsync(registry, image);
        SnapshotMatch match;
        do
        {
            match = await mounter.MatchAsync(registry, image);
        }
        while (match.Kind == SnapshotMatchKind.None && !warm.IsCompleted);

        string mountPoint = Directory.CreateDirectory(Path.Combine(_work, "mnt")).FullName;
        await using (var mounted = await mounter.MountAsync(registry, image, mountPoint))
        {
            var differences = TreeSnapshot.Compare(reference, TreeSnapshot.Capture(mountPoint));
            Assert.True(differences.Count == 0, string.Join("\n", differences.Take(10)));
        }

        await warm;
        Assert.Contains(match.Kind, new[] { SnapshotMatchKind.Warming, SnapshotMatchKind.Exact });
        var manifest = (await registry.GetManifestAsync(image)).Manifest!;
        Assert.All(manifest.Layers, l => Assert.Equal(1, registry.OpenCount(l.Digest)));
    }
}

using Accelerator.Linux;
using Accelerator.Snapshots;
using Accelerator.Snapshotter.Layers;
using Accelerator.Snapshotter.Remote;
using Accelerator.Testing.Trees;
using Microsoft.Extensions.DependencyInjection;

namespace Accelerator.Snapshotter.Tests.Remote;

/// <summary>
/// The remote layer provider against a real registry with a real Debian image and its lazy and block variants: the
/// decision per strategy, the mounted tree, one mount for concurrent Prepares, the status, restart, intermediate layers.
/// </summary>
public sealed class RemoteLayerProviderTests(RemoteSnapshotsFixture fixture) : IClassFixture<RemoteSnapshotsFixture>
{
    // ext4 adds /lost+found, which e2fsck expects (docs/formats/block.md).
    private static readonly TreeCompareOptions Ext4Compare = new() { IgnorePath = p => p == "lost+found" };

    [Fact]
    public async Task TryProvideAsync_LazyVariant_EveryLayerRemoteAndTopMountEqualsUmoci()
    {
        string root = fixture.NewDirectory("lazy");
        await using var services = fixture.CreateServices(root, a => RemoteSnapshotsFixture.AllStrategies(a, root));
        var provider = services.GetRequiredService<RemoteLayerProvider>();
        var pulled = await fixture.DescribeAsync(fixture.Converted);
        int gets = pulled.LayerDigests.Sum(fixture.BlobGets);

        var sources = await ProvideAllAsync(provider, pulled);

        Assert.All(sources, s => Assert.Equal(RemoteLayerProvider.ProviderName, s.Provider));
        Assert.Equal(["0", "1", "2"], sources.Select(s => s.Properties["depth"]));
        var lower = await provider.ResolveLowerAsync(sources[^1], default);
        Assert.True(lower.CoversParents);
        AssertTree(fixture.Expected, lower.Directories.Single(), null);
        var status = Assert.Single(provider.GetStatus());
        Assert.Equal("lazy", status.Strategy);
        Assert.Equal(pulled.ManifestDigest.ToString(), status.Manifest);
        Assert.Equal(3, status.Snapshots);
        Assert.True(status.Mounted);
        Assert.DoesNotContain(status.Skipped, s => s.Strategy != "cache");
        // containerd fetches no layer and neither does the provider: the lazy mount reads chunks, not the original layers.
        Assert.Equal(gets, pulled.LayerDigests.Sum(fixture.BlobGets));
        Assert.Equal(1, provider.Metrics.Totals[("lazy", "served")]);
    }

    [Fact]
    public async Task TryProvideAsync_BlockVariantOnly_ServesWithBlock()
    {
        string root = fixture.NewDirectory("block");
        await using var services = fixture.CreateServices(root, a => a.UseBlockDevice(b =>
        {
            b.CacheDirectory = Path.Combine(root, "blocks");
            b.StateDirectory = Path.Combine(root, "block");
        }));
        var provider = services.GetRequiredService<RemoteLayerProvider>();
        var pulled = await fixture.DescribeAsync(fixture.Converted);

        var sources = await ProvideAllAsync(provider, pulled);

        var lower = await provider.ResolveLowerAsync(sources[^1], default);
        AssertTree(fixture.Expected, lower.Directories.Single(), Ext4Compare);
        Assert.Equal("block", Assert.Single(provider.GetStatus()).Strategy);
    }

    [Fact]
    public async Task TryProvideAsync_PrewarmedCache_ServesFromCacheWithoutFetchingLayers()
    {
        string root = fixture.NewDirectory("cache");
        await SnapshotStore.Open(new SnapshotStoreOptions { Root = Path.Combine(root, "cache") })
            .WarmAsync(fixture.Client.GetStore(fixture.Registry.Host), fixture.Unconverted, SnapshotKind.OverlayTree);
        await using var services = fixture.CreateServices(root, a => RemoteSnapshotsFixture.AllStrategies(a, root));
        var provider = services.GetRequiredService<RemoteLayerProvider>();
        var pulled = await fixture.DescribeAsync(fixture.Unconverted);
        int gets = pulled.LayerDigests.Sum(fixture.BlobGets);

        var sources = await ProvideAllAsync(provider, pulled);

        var lower = await provider.ResolveLowerAsync(sources[^1], default);
        AssertTree(fixture.Expected, lower.Directories.Single(), null);
        Assert.Equal("cache", Assert.Single(provider.GetStatus()).Strategy);
        Assert.Equal(gets, pulled.LayerDigests.Sum(fixture.BlobGets));
    }

    [Fact]
    public async Task TryProvideAsync_Unconverted_NullAndOrdinaryWithEachStrategysReason()
    {
        string root = fixture.NewDirectory("unconverted");
        await using var services = fixture.CreateServices(root, a => RemoteSnapshotsFixture.AllStrategies(a, root));
        var provider = services.GetRequiredService<RemoteLayerProvider>();
        var pulled = await fixture.DescribeAsync(fixture.Unconverted);

        Assert.Null(await provider.TryProvideAsync(pulled.Request(0), default));
        Assert.Null(await provider.TryProvideAsync(pulled.Request(1), default));

        var status = Assert.Single(provider.GetStatus());
        Assert.Equal(RemoteLayerProvider.Ordinary, status.Strategy);
        Assert.Contains("lazy", status.Reason, StringComparison.Ordinal);
        Assert.Contains("block", status.Reason, StringComparison.Ordinal);
        Assert.False(status.Mounted);
        // One decision for the image, shared by its layers.
        Assert.Equal(1, provider.Metrics.Totals[(RemoteLayerProvider.Ordinary, "not-accelerated")]);
        Assert.Empty(Directory.EnumerateDirectories(Path.Combine(root, "remote")));
    }

    [Fact]
    public async Task TryProvideAsync_WithoutCriLabels_NullWithThatReason()
    {
        string root = fixture.NewDirectory("ctr");
        await using var services = fixture.CreateServices(root, a => RemoteSnapshotsFixture.AllStrategies(a, root));
        var provider = services.GetRequiredService<RemoteLayerProvider>();
        var pulled = await fixture.DescribeAsync(fixture.Converted);
        var labels = new Dictionary<string, string> { [RemoteImageLabels.SnapshotRef] = pulled.ChainIds[0] };

        var source = await provider.TryProvideAsync(new LayerRequest("extract-1 x", null, null, pulled.ChainIds[0], labels), default);

        Assert.Null(source);
        Assert.Equal(1, provider.Metrics.Totals[(RemoteLayerProvider.Ordinary, "no-cri-labels")]);
    }

    [Fact]
    public async Task TryProvideAsync_ManifestOfAnotherImage_NeverMountsTheVariant()
    {
        // The labels name corpus/layered:TAG (which has variants) but a manifest that is not the one they were converted
        // from: the variant must not be mounted for it.
        string root = fixture.NewDirectory("other");
        await using var services = fixture.CreateServices(root, a => RemoteSnapshotsFixture.AllStrategies(a, root));
        var provider = services.GetRequiredService<RemoteLayerProvider>();
        var pulled = await fixture.DescribeAsync(fixture.Converted);
        var variant = await fixture.DescribeAsync(fixture.Converted.WithTag(fixture.Converted.Tag + "-accel-block"));
        var mislabelled = pulled with { ManifestDigest = variant.ManifestDigest };

        Assert.Null(await provider.TryProvideAsync(mislabelled.Request(0), default));

        var status = Assert.Single(provider.GetStatus());
        Assert.Equal(RemoteLayerProvider.Ordinary, status.Strategy);
        Assert.Equal(1, provider.Metrics.Totals[(RemoteLayerProvider.Ordinary, "not-verified")]);
    }

    [Fact]
    public async Task TryProvideAsync_ConcurrentPrepares_OneDecisionOneMount()
    {
        string root = fixture.NewDirectory("concurrent");
        await using var services = fixture.CreateServices(root, a => RemoteSnapshotsFixture.AllStrategies(a, root));
        var provider = services.GetRequiredService<RemoteLayerProvider>();
        var pulled = await fixture.DescribeAsync(fixture.Converted);

        var sources = await Task.WhenAll(Enumerable.Range(0, 12).Select(i => Task.Run(() => provider.TryProvideAsync(pulled.Request(i % 3), default))));

        Assert.All(sources, Assert.NotNull);
        Assert.Equal(1, provider.Metrics.Totals[("lazy", "served")]);
        Assert.Single(MountTable.MountPointsUnder(MountTable.Read(), Path.Combine(root, "remote")));
        Assert.Equal(3, Assert.Single(provider.GetStatus()).Snapshots);
    }

    [Fact]
    public async Task ResolveLowerAsync_AfterRestart_MountsAgainOnDemand()
    {
        string root = fixture.NewDirectory("restart");
        var pulled = await fixture.DescribeAsync(fixture.Converted);
        IReadOnlyList<LayerSource> sources;
        await using (var services = fixture.CreateServices(root, a => RemoteSnapshotsFixture.AllStrategies(a, root)))
        {
            sources = await ProvideAllAsync(services.GetRequiredService<RemoteLayerProvider>(), pulled);
        }

        Assert.Empty(MountTable.MountPointsUnder(MountTable.Read(), Path.Combine(root, "remote")));
        await using var restarted = fixture.CreateServices(root, a => RemoteSnapshotsFixture.AllStrategies(a, root));
        var provider = restarted.GetRequiredService<RemoteLayerProvider>();
        var before = Assert.Single(provider.GetStatus());
        Assert.False(before.Mounted);
        Assert.Equal(3, before.Snapshots);

        var lower = await provider.ResolveLowerAsync(sources[^1], default);

        AssertTree(fixture.Expected, lower.Directories.Single(), null);
        Assert.True(Assert.Single(provider.GetStatus()).Mounted);
    }

    [Fact]
    public async Task ResolveLowerAsync_IntermediateLayer_GivesExactlyItsLowerLayers()
    {
        string root = fixture.NewDirectory("intermediate");
        await using var services = fixture.CreateServices(root, a => RemoteSnapshotsFixture.AllStrategies(a, root));
        var provider = services.GetRequiredService<RemoteLayerProvider>();
        var pulled = await fixture.DescribeAsync(fixture.Converted);
        var sources = await ProvideAllAsync(provider, pulled);

        var lower = await provider.ResolveLowerAsync(sources[1], default);

        Assert.True(lower.CoversParents);
        Assert.NotEqual(Path.Combine(root, "remote", "1", "mnt"), lower.Directories.Single());
        AssertTree(fixture.ExpectedTwoLayers, lower.Directories.Single(), null);
    }

    [Fact]
    public async Task ReleaseAsync_LastSnapshot_UnmountsAndRemoves()
    {
        string root = fixture.NewDirectory("release");
        await using var services = fixture.CreateServices(root, a => RemoteSnapshotsFixture.AllStrategies(a, root));
        var provider = services.GetRequiredService<RemoteLayerProvider>();
        var pulled = await fixture.DescribeAsync(fixture.Converted);
        var sources = await ProvideAllAsync(provider, pulled);
        string remote = Path.Combine(root, "remote");

        await provider.ReleaseAsync(sources[2], default);
        await provider.ReleaseAsync(sources[1], default);
        Assert.Single(MountTable.MountPointsUnder(MountTable.Read(), remote));
        Assert.Equal(1, Assert.Single(provider.GetStatus()).Snapshots);

        await provider.ReleaseAsync(sources[0], default);

        Assert.Empty(MountTable.MountPointsUnder(MountTable.Read(), remote));
        Assert.Empty(provider.GetStatus());
        Assert.Empty(Directory.EnumerateFileSystemEntries(remote));
    }

    private static async Task<IReadOnlyList<LayerSource>> ProvideAllAsync(RemoteLayerProvider provider, PulledImage pulled)
    {
        var sources = new List<LayerSource>();
        for (int depth = 0; depth < pulled.ChainIds.Count; depth++)
        {
            var source = await provider.TryProvideAsync(pulled.Request(depth, depth == 0 ? null : sources[^1]), default);
            Assert.NotNull(source);
            sources.Add(source);
        }

        return sources;
    }

    private static void AssertTree(TreeSnapshot expected, string directory, TreeCompareOptions? options)
    {
        var differences = TreeSnapshot.Compare(expected, TreeSnapshot.Capture(directory), options);
        Assert.True(differences.Count == 0, $"{directory} differs from umoci's unpack:\n" + string.Join("\n", differences.Take(50)));
    }
}

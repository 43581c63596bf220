using Accelerator.Snapshots;
using Accelerator.Testing.Images;
using Accelerator.Testing.Registry;
using Accelerator.Testing.Trees;

namespace Accelerator.IntegrationTests.RealImages;

/// <summary>
/// Every strategy on every real Debian image of the corpus (issue 12, C): full pull, lazy (FUSE), block (loop-mounted
/// ext4), and the snapshot cache as overlay trees and as a block stack each mount the image to a tree equal to
/// <c>umoci unpack</c> of it (block file systems add <c>lost+found</c>), and a container started on the mount by
/// containerd and runc (<c>ctr run --rootfs</c>) runs a real program of the image.
/// </summary>
[Collection(DebianCorpusCollection.Name)]
public sealed class RealImageStrategyTests(DebianCorpusFixture fixture)
{
    // ext4 adds /lost+found, which e2fsck expects (docs/formats/block.md).
    private static readonly TreeCompareOptions Ext4Compare = new() { IgnorePath = p => p == "lost+found" };

    public static TheoryData<string> Images => [.. DebianImageCorpus.Names];

    [Theory]
    [MemberData(nameof(Images))]
    public async Task MountAsync_Full_TreeEqualsUmociAndContainerRuns(string name)
    {
        var entry = await fixture.GetAsync(name);

        await MountCompareAndRunAsync(entry, Strategy.Full, builder => builder.UseFullPull(), compare: null);
    }

    [Theory]
    [MemberData(nameof(Images))]
    public async Task MountAsync_Lazy_TreeEqualsUmociAndContainerRuns(string name)
    {
        var entry = await fixture.GetAsync(name);
        await fixture.EnsureLazyVariantAsync(name);
        string state = fixture.NewDirectory("lazy-state");

        await MountCompareAndRunAsync(entry, Strategy.Lazy, builder => builder.UseLazyMount(l =>
        {
            l.CacheDirectory = Path.Combine(state, "cache");
            l.StateDirectory = Path.Combine(state, "state");
            l.Prefetch = false;
        }), compare: null);
    }

    [Theory]
    [MemberData(nameof(Images))]
    public async Task MountAsync_Block_TreeEqualsUmociAndContainerRuns(string name)
    {
        var entry = await fixture.GetAsync(name);
        await fixture.EnsureBlockVariantAsync(name);
        string state = fixture.NewDirectory("block-state");

        await MountCompareAndRunAsync(entry, Strategy.Block, builder => builder.UseBlockDevice(b =>
        {
            b.CacheDirectory = Path.Combine(state, "cache");
            b.StateDirectory = Path.Combine(state, "state");
        }), Ext4Compare);
    }

    [Theory]
    [MemberData(nameof(Images))]
    public async Task MountAsync_CacheTree_TreeEqualsUmociAndContainerRuns(string name)
    {
        var entry = await fixture.GetAsync(name);
        string root = fixture.NewDirectory("snapshots-tree");
        var warm = await SnapshotStore.Open(new SnapshotStoreOptions { Root = root })
            .WarmAsync(fixture.Client.GetStore(entry.Reference.Registry), entry.Reference, SnapshotKind.OverlayTree);
        Assert.Equal(entry.Image.LayerCount, warm.Snapshot.ChainIds.Count);

        await MountCompareAndRunAsync(entry, Strategy.Cache, builder => builder.UseSnapshotCache(c => c.Root = root), compare: null);
    }

    [Theory]
    [MemberData(nameof(Images))]
    public async Task MountAsync_CacheBlock_TreeEqualsUmociAndContainerRuns(string name)
    {
        var entry = await fixture.GetAsync(name);
        await fixture.EnsureBlockVariantAsync(name);
        string root = fixture.NewDirectory("snapshots-block");
        var warm = await SnapshotStore.Open(new SnapshotStoreOptions { Root = root })
            .WarmAsync(fixture.Client.GetStore(entry.Reference.Registry), entry.Reference, SnapshotKind.BlockStack);
        Assert.Equal(SnapshotKind.BlockStack, warm.Snapshot.Kind);

        await MountCompareAndRunAsync(entry, Strategy.Cache, builder => builder.UseSnapshotCache(c => c.Root = root), Ext4Compare);
    }

    private async Task MountCompareAndRunAsync(CorpusEntry entry, Strategy strategy, Action<ImageAcceleratorBuilder> use, TreeCompareOptions? compare)
    {
        var builder = new ImageAcceleratorBuilder()
            .AddRegistry(fixture.Registry.Host, r => r.PlainHttp = true)
            .ConfigureRegistries(r => r.DockerConfigPath = TestRegistryOptions.NoDockerConfig)
            .PreferStrategies(strategy);
        use(builder);
        await using var accelerator = builder.Build();
        string mountPoint = Path.Combine(fixture.NewDirectory(strategy.ToString().ToLowerInvariant()), "rootfs");
        if (strategy != Strategy.Full)
        {
            Directory.CreateDirectory(mountPoint);
        }

        await using var mounted = await accelerator.MountAsync(entry.Reference, mountPoint);
        Assert.Equal(strategy, mounted.Statistics.Strategy);

        var differences = TreeSnapshot.Compare(entry.Expected, TreeSnapshot.Capture(mountPoint), compare);
        Assert.True(differences.Count == 0, $"{entry.Image.Name} mounted with {strategy} differs from umoci's unpack:\n" + string.Join("\n", differences.Take(50)));

        string output = await fixture.Containerd.CtrAsync(
            ["run", "--rm", "--rootfs", mountPoint, $"{entry.Image.Name}-{strategy}-{Guid.NewGuid():N}"[..40].ToLowerInvariant(), .. entry.Image.Command]);
        foreach (string expected in entry.Image.ExpectedOutput)
        {
            Assert.Contains(expected, output, StringComparison.Ordinal);
        }
    }
}

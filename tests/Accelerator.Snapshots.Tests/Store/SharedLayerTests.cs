using System.Diagnostics;
using Accelerator.Oci.Registry;
using Accelerator.Snapshots.Tests.Support;
using Accelerator.Testing.Trees;

namespace Accelerator.Snapshots.Tests.Store;

/// <summary>
/// The store's layers shared with another holder (the containerd snapshotter): adopting finished trees under their
/// chain IDs, pins against eviction, prune and recovery, and warms that find every layer adopted.
/// </summary>
[Collection(SnapshotCollection.Name)]
public sealed class SharedLayerTests(SnapshotFixture fixture) : IDisposable
{
    private readonly RegistryClient _client = new(new RegistryOptions { PlainHttp = true });
    private readonly string _work = fixture.NewDirectory("shared");

    public void Dispose()
    {
        _client.Dispose();
        Directory.Delete(_work, recursive: true);
    }

    private SnapshotStore OpenStore(string name, long capacity = 0) => SnapshotStore.Open(new SnapshotStoreOptions { Root = Path.Combine(_work, name), CapacityBytes = capacity });

    /// <summary>
    /// The conformance image's layer trees as containerd's overlay snapshotter would hand them over: copies (with
    /// whiteouts, opaque markers and ownership) of the trees a warm built in a separate store, and their chain IDs.
    /// </summary>
    private async Task<(Digest ChainId, string Tree)[]> HolderTreesAsync()
    {
        var image = fixture.ConformanceReference;
        var source = OpenStore("source-" + Guid.NewGuid().ToString("N")[..6]);
        var warm = await source.WarmAsync(_client.GetStore(image.Registry), image);
        var trees = new List<(Digest, string)>();
        foreach (var chainId in warm.Snapshot.ChainIds)
        {
            string copy = Path.Combine(_work, "holder-" + Guid.NewGuid().ToString("N")[..8]);
            await CopyTreeAsync(source.FindLayer(chainId)!.TreePath, copy);
            trees.Add((chainId, copy));
        }

        return [.. trees];
    }

    private static async Task CopyTreeAsync(string from, string to)
    {
        using var process = Process.Start(new ProcessStartInfo("cp", ["-a", "--", from, to]) { RedirectStandardError = true })!;
        string error = await process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        Assert.True(process.ExitCode == 0, error);
    }

    private static async Task AdoptAllAsync(SnapshotStore store, (Digest ChainId, string Tree)[] trees, string? pin = null)
    {
        Digest? parent = null;
        foreach (var (chainId, tree) in trees)
        {
            await store.AdoptLayerAsync(chainId, parent, tree, pin);
            parent = chainId;
        }
    }

    [Fact]
    public async Task AdoptLayerAsync_NewChainId_MovesTreeAndPublishesWithoutDiffId()
    {
        var trees = await HolderTreesAsync();
        var expected = TreeSnapshot.Capture(trees[0].Tree);
        var store = OpenStore("cache");

        var layer = await store.AdoptLayerAsync(trees[0].ChainId, null, trees[0].Tree);

        Assert.False(Directory.Exists(trees[0].Tree));
        Assert.Equal(layer, store.FindLayer(trees[0].ChainId));
        Assert.True(layer.Adopted);
        Assert.Null(layer.DiffId);
        Assert.Null(layer.Parent);
        Assert.True(layer.SizeBytes > 0);
        Assert.Equal(Path.Combine(store.Root, "layers", trees[0].ChainId.Encoded, "fs"), layer.TreePath);
        Assert.Empty(TreeSnapshot.Compare(expected, TreeSnapshot.Capture(layer.TreePath)));
        // Reopening (recovery) keeps it: an adopted record is valid without a diff ID.
        Assert.NotNull(OpenStore("cache").FindLayer(trees[0].ChainId));
    }

    [Fact]
    public async Task AdoptLayerAsync_Twice_DropsSecondDirectoryAndAnswersExisting()
    {
        var trees = await HolderTreesAsync();
        string second = Path.Combine(_work, "second-" + Guid.NewGuid().ToString("N")[..8]);
        await CopyTreeAsync(trees[0].Tree, second);
        File.WriteAllText(Path.Combine(second, "only-in-second"), "x");
        var store = OpenStore("cache");
        var first = await store.AdoptLayerAsync(trees[0].ChainId, null, trees[0].Tree, pin: "a");

        var again = await store.AdoptLayerAsync(trees[0].ChainId, null, second, pin: "b");

        Assert.Equal(first, again);
        Assert.False(Directory.Exists(second));
        Assert.False(File.Exists(Path.Combine(again.TreePath, "only-in-second")));
        Assert.Equal(["a", "b"], store.LayerPins(trees[0].ChainId));
    }

    [Fact]
    public async Task AdoptLayerAsync_ParentNotInStore_RefusesAndLeavesTree()
    {
        var trees = await HolderTreesAsync();
        var store = OpenStore("cache");

        await Assert.ThrowsAsync<InvalidOperationException>(() => store.AdoptLayerAsync(trees[1].ChainId, trees[0].ChainId, trees[1].Tree));

        Assert.True(Directory.Exists(trees[1].Tree));
        Assert.Null(store.FindLayer(trees[1].ChainId));
    }

    [Fact]
    public async Task PinLayerAsync_BadName_Throws()
    {
        var store = OpenStore("cache");
        foreach (string bad in new[] { "", "../x", ".hidden", "a/b", new string('x', 129) })
        {
            await Assert.ThrowsAsync<ArgumentException>(() => store.PinLayerAsync(Digest.Compute("x"u8), bad));
        }

        Assert.Null(await store.PinLayerAsync(Digest.Compute("x"u8), "absent"));
        Assert.Empty(store.LayerPins(Digest.Compute("x"u8)));
    }

    [Fact]
    public async Task PruneAsync_PinnedTopLayer_KeepsItAndItsParentsUntilUnpinned()
    {
        var trees = await HolderTreesAsync();
        // A capacity of one byte: everything not in use must go.
        var store = OpenStore("cache", capacity: 1);
        await AdoptAllAsync(store, trees);
        var top = trees[^1].ChainId;
        Assert.NotNull(await store.PinLayerAsync(top, "snapshotter-1"));

        await store.PruneAsync();
        var reopened = OpenStore("cache", capacity: 1);
        await reopened.PruneAsync();

        Assert.All(trees, t => Assert.NotNull(reopened.FindLayer(t.ChainId)));
        Assert.True(await reopened.UnpinLayerAsync(top, "snapshotter-1"));
        Assert.False(await reopened.UnpinLayerAsync(top, "snapshotter-1"));
        await reopened.PruneAsync();
        Assert.All(trees, t => Assert.Null(reopened.FindLayer(t.ChainId)));
    }

    [Fact]
    public async Task EvictAsync_ImageOfPinnedLayers_RemovesRecordKeepsLayers()
    {
        var trees = await HolderTreesAsync();
        var store = OpenStore("cache");
        await AdoptAllAsync(store, trees, pin: "snapshotter-1");
        var image = fixture.ConformanceReference;
        var warm = await store.WarmAsync(_client.GetStore(image.Registry), image);

        Assert.True(await store.EvictAsync(warm.Snapshot.ManifestDigest));

        Assert.Empty(store.List());
        Assert.All(trees, t => Assert.NotNull(store.FindLayer(t.ChainId)));
    }

    [Fact]
    public async Task Open_InvalidLayers_RemovesUnpinnedKeepsPinned()
    {
        var trees = await HolderTreesAsync();
        var store = OpenStore("cache");
        await store.AdoptLayerAsync(trees[0].ChainId, null, trees[0].Tree, pin: "p");
        string other = Path.Combine(_work, "other-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(other);
        var unpinned = Digest.Compute("unpinned"u8);
        await store.AdoptLayerAsync(unpinned, null, other);
        File.WriteAllText(Path.Combine(store.Root, "layers", trees[0].ChainId.Encoded, "layer.json"), "{");
        File.WriteAllText(Path.Combine(store.Root, "layers", unpinned.Encoded, "layer.json"), "{");

        var reopened = OpenStore("cache");

        Assert.True(Directory.Exists(Path.Combine(store.Root, "layers", trees[0].ChainId.Encoded, "fs")));
        Assert.False(Directory.Exists(Path.Combine(store.Root, "layers", unpinned.Encoded)));
        Assert.Equal(1, reopened.Recovery.LayersRemoved);
    }

    [Fact]
    public async Task Open_AdoptionInterruptedBetweenRenames_GivesTheTreeBack()
    {
        var trees = await HolderTreesAsync();
        var expected = TreeSnapshot.Capture(trees[0].Tree);
        var store = OpenStore("cache");
        // What a process killed after moving the holder's tree into its staging directory leaves (no lock held).
        string staging = Path.Combine(store.Root, "staging", "killed");
        Directory.CreateDirectory(Path.Combine(staging, "layer"));
        File.WriteAllText(Path.Combine(staging, "origin"), trees[0].Tree);
        Directory.Move(trees[0].Tree, Path.Combine(staging, "layer", "fs"));

        var reopened = OpenStore("cache");

        Assert.Equal(1, reopened.Recovery.StagingRemoved);
        Assert.False(Directory.Exists(staging));
        Assert.Empty(TreeSnapshot.Compare(expected, TreeSnapshot.Capture(trees[0].Tree)));
        Assert.Null(reopened.FindLayer(trees[0].ChainId));
    }

    [Fact]
    public async Task WarmAsync_EveryLayerAdopted_DownloadsNoLayerAndMountsTheImage()
    {
        var trees = await HolderTreesAsync();
        var store = OpenStore("cache");
        await AdoptAllAsync(store, trees, pin: "snapshotter-1");
        var image = fixture.ConformanceReference;
        var registry = new CountingImageStore(_client.GetStore(image.Registry));
        var manifest = (await registry.GetManifestAsync(image)).Manifest!;
        string logBefore = fixture.Registry.ReadLog();

        var warm = await store.WarmAsync(registry, image);

        string logAfter = fixture.Registry.ReadLog()[logBefore.Length..];
        Assert.Equal(0, warm.LayersFetched);
        Assert.Equal(0, warm.BytesFetched);
        Assert.All(manifest.Layers, l => Assert.Equal(0, registry.OpenCount(l.Digest)));
        Assert.All(manifest.Layers, l => Assert.DoesNotContain("/blobs/" + l.Digest, logAfter, StringComparison.Ordinal));
        Assert.Equal(trees.Select(t => t.ChainId), warm.Snapshot.ChainIds);
        var listed = Assert.Single(store.List());
        Assert.Equal(warm.Snapshot.ManifestDigest, listed.ManifestDigest);
        Assert.True(listed.SizeBytes > 0);

        string mountPoint = Directory.CreateDirectory(Path.Combine(_work, "mnt-" + Guid.NewGuid().ToString("N")[..8])).FullName;
        await using var mounted = await store.MountAsync(warm.Snapshot.ManifestDigest, image, mountPoint);
        var differences = TreeSnapshot.Compare(fixture.ReferenceSnapshot, TreeSnapshot.Capture(mountPoint));
        Assert.True(differences.Count == 0, "The clone differs from umoci's unpack:\n" + string.Join("\n", differences));
    }
}

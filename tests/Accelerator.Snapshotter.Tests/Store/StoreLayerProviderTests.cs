using System.Text;
using Accelerator.Linux;
using Accelerator.Snapshots;
using Accelerator.Snapshotter.Layers;
using Accelerator.Snapshotter.Store;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;

namespace Accelerator.Snapshotter.Tests.Store;

/// <summary>
/// <see cref="StoreLayerProvider"/> over a real <see cref="SnapshotStore"/> on disk: names as containerd's metadata store
/// passes them (<c>NAMESPACE/SEQUENCE/CHAINID</c>), adoption by rename, pins per snapshot, and the adopted trees stacked
/// by a real overlay mount.
/// </summary>
public sealed class StoreLayerProviderTests : IDisposable
{
    private static readonly Digest Base = Digest.Compute("base layer"u8);
    private static readonly Digest Top = Digest.Compute(Encoding.ASCII.GetBytes(Base + " top layer"));

    private readonly string _root = Directory.CreateTempSubdirectory("accel-store-provider-").FullName;
    private readonly SnapshotStore _store;
    private readonly StoreLayerProvider _provider;

    public StoreLayerProviderTests()
    {
        _store = SnapshotStore.Open(new SnapshotStoreOptions { Root = Path.Combine(_root, "cache") });
        _provider = new StoreLayerProvider(_store, NullLogger<StoreLayerProvider>.Instance);
    }

    public void Dispose() => Directory.Delete(_root, recursive: true);

    // A tree as containerd's overlay snapshotter leaves it in ROOT/snapshots/ID/fs.
    private string SnapshotTree(string file, string? whiteout = null)
    {
        string fs = Directory.CreateDirectory(Path.Combine(_root, "snapshots", Guid.NewGuid().ToString("N")[..8], "fs")).FullName;
        File.WriteAllText(Path.Combine(fs, file), file);
        if (whiteout is not null)
        {
            LibC.Mknod(Path.Combine(fs, whiteout), LibC.S_IFCHR | 0, 0, 0);
        }

        return fs;
    }

    private static LayerRequest Request(Digest chainId, string? parent = null, LayerSource? parentSource = null)
        => new("default/9/extract-1 " + chainId, parent, parentSource, chainId.ToString(), new Dictionary<string, string> { ["containerd.io/snapshot.ref"] = chainId.ToString() });

    [Fact]
    public async Task TryAdoptAsync_ContainerdNames_MovesTreesIntoStoreAndPins()
    {
        string baseTree = SnapshotTree("a.txt");
        string topTree = SnapshotTree("b.txt", whiteout: "a.txt");

        var baseSource = await _provider.TryAdoptAsync("default/3/" + Base, null, baseTree, CancellationToken.None);
        var topSource = await _provider.TryAdoptAsync("default/5/" + Top, "default/3/" + Base, topTree, CancellationToken.None);

        Assert.Equal("store", baseSource!.Provider);
        Assert.Equal(Top.ToString(), topSource!.Properties["chainId"]);
        Assert.False(Directory.Exists(baseTree));
        Assert.False(Directory.Exists(topTree));
        Assert.Equal(Base, _store.FindLayer(Top)!.Parent);
        Assert.Equal([topSource.Properties["pin"]], _store.LayerPins(Top));

        // Stacked as the snapshotter stacks them: the top layer's whiteout hides the base's file.
        var lowers = new List<string>();
        foreach (var source in new[] { topSource, baseSource })
        {
            var directories = await _provider.ResolveLowerAsync(source, CancellationToken.None);
            Assert.False(directories.CoversParents);
            lowers.AddRange(directories.Directories);
        }

        string mountPoint = Directory.CreateDirectory(Path.Combine(_root, "mnt")).FullName;
        OverlayMount.Mount(lowers, null, null, mountPoint);
        try
        {
            Assert.Equal(["b.txt"], Directory.EnumerateFileSystemEntries(mountPoint).Select(Path.GetFileName));
        }
        finally
        {
            FileSystemMount.Unmount(mountPoint);
        }
    }

    [Fact]
    public async Task TryAdoptAsync_ParentNotInStoreOrNameNotChainId_LeavesTree()
    {
        string tree = SnapshotTree("b.txt");

        Assert.Null(await _provider.TryAdoptAsync("default/5/" + Top, "default/3/" + Base, tree, CancellationToken.None));
        Assert.Null(await _provider.TryAdoptAsync("default/5/my-layer", null, tree, CancellationToken.None));
        Assert.Null(await _provider.TryAdoptAsync("default/5/sha256:short", null, tree, CancellationToken.None));

        Assert.True(File.Exists(Path.Combine(tree, "b.txt")));
        Assert.Null(_store.FindLayer(Top));
    }

    [Fact]
    public async Task TryAdoptAsync_SecondNamespace_KeepsOneLayerWithTwoPinsReleasedIndependently()
    {
        var first = await _provider.TryAdoptAsync("default/3/" + Base, null, SnapshotTree("a.txt"), CancellationToken.None);
        string again = SnapshotTree("a.txt");
        var second = await _provider.TryAdoptAsync("k8s.io/7/" + Base, null, again, CancellationToken.None);

        Assert.False(Directory.Exists(again));
        Assert.NotEqual(first!.Properties["pin"], second!.Properties["pin"]);
        Assert.Equal(2, _store.LayerPins(Base).Count);

        await _provider.ReleaseAsync(first, CancellationToken.None);
        await _store.PruneAsync();
        Assert.NotNull(_store.FindLayer(Base));

        await _provider.ReleaseAsync(second, CancellationToken.None);
        Assert.Empty(_store.LayerPins(Base));
        await _store.PruneAsync();
        Assert.Null(_store.FindLayer(Base));
    }

    [Fact]
    public async Task TryProvideAsync_LayerInStoreOnMatchingParent_PinsAndServesIt()
    {
        var adoptedBase = await _provider.TryAdoptAsync("default/3/" + Base, null, SnapshotTree("a.txt"), CancellationToken.None);
        await _provider.TryAdoptAsync("default/5/" + Top, "default/3/" + Base, SnapshotTree("b.txt"), CancellationToken.None);

        var baseSource = await _provider.TryProvideAsync(Request(Base), CancellationToken.None);
        // The parent as containerd names a remote snapshot (the bare chain ID), backed by the store.
        var topSource = await _provider.TryProvideAsync(Request(Top, Base.ToString(), baseSource), CancellationToken.None);
        // The parent as an ordinary snapshot of the snapshotter's own, named by containerd's metadata store.
        var topOverOwn = await _provider.TryProvideAsync(Request(Top, "default/11/" + Base), CancellationToken.None);

        Assert.NotNull(baseSource);
        Assert.NotNull(topSource);
        Assert.NotNull(topOverOwn);
        Assert.Equal(2, _store.LayerPins(Base).Count);
        Assert.Equal(3, _store.LayerPins(Top).Count);
        var lower = await _provider.ResolveLowerAsync(topSource, CancellationToken.None);
        // A short link to the layer's tree, so that many lower directories fit in one mount option page.
        string link = Assert.Single(lower.Directories);
        Assert.Equal(Path.Combine(_store.Root, "l", Top.Encoded[..16]), link);
        Assert.Equal(_store.FindLayer(Top)!.TreePath, Path.GetFullPath(Path.Combine(_store.Root, "l", new FileInfo(link).LinkTarget!)));
        Assert.True(File.Exists(Path.Combine(link, "b.txt")));
        Assert.Equal(lower.Directories, (await _provider.ResolveLowerAsync(topOverOwn, CancellationToken.None)).Directories);
        Assert.NotNull(adoptedBase);
    }

    [Fact]
    public async Task ResolveLowerAsync_ShortLinkTakenByAnotherLayer_AnswersTheLongPath()
    {
        var source = await _provider.TryAdoptAsync("default/3/" + Base, null, SnapshotTree("a.txt"), CancellationToken.None);
        // Another chain ID sharing the first 16 hex digits got the link first.
        Directory.CreateDirectory(Path.Combine(_store.Root, "l"));
        File.CreateSymbolicLink(Path.Combine(_store.Root, "l", Base.Encoded[..16]), Path.Combine("..", "layers", new string('f', 64), "fs"));

        var lower = await _provider.ResolveLowerAsync(source!, CancellationToken.None);

        Assert.Equal([_store.FindLayer(Base)!.TreePath], lower.Directories);
    }

    [Fact]
    public async Task TryProvideAsync_UnknownLayerOrOtherParent_AnswersNullWithoutPin()
    {
        await _provider.TryAdoptAsync("default/3/" + Base, null, SnapshotTree("a.txt"), CancellationToken.None);
        await _provider.TryAdoptAsync("default/5/" + Top, "default/3/" + Base, SnapshotTree("b.txt"), CancellationToken.None);
        var other = Digest.Compute("other"u8);

        Assert.Null(await _provider.TryProvideAsync(Request(other), CancellationToken.None));
        Assert.Null(await _provider.TryProvideAsync(Request(Top), CancellationToken.None));
        Assert.Null(await _provider.TryProvideAsync(Request(Top, "default/4/" + other), CancellationToken.None));
        Assert.Null(await _provider.TryProvideAsync(Request(Base, "default/4/" + other), CancellationToken.None));
        Assert.Null(await _provider.TryProvideAsync(new LayerRequest("k", null, null, "not-a-digest", new Dictionary<string, string>()), CancellationToken.None));

        Assert.Single(_store.LayerPins(Top));
        Assert.Single(_store.LayerPins(Base));
    }

    [Fact]
    public async Task AddSnapshotStoreLayers_RegistersTheStoreProviderFirstOverOneStore()
    {
        var services = new ServiceCollection().AddLogging();
        services.AddSnapshotStoreLayers(o => o.Root = Path.Combine(_root, "di-cache"));
        services.AddSnapshotStoreLayers(o => o.Root = Path.Combine(_root, "di-cache"));
        await using var provider = services.BuildServiceProvider();

        var layers = Assert.Single(provider.GetServices<ILayerProvider>());
        Assert.Equal("store", layers.Name);
        Assert.Equal(0, layers.Order);
        Assert.Same(provider.GetRequiredService<SnapshotStore>(), provider.GetRequiredService<SnapshotStore>());
        Assert.Equal(Path.Combine(_root, "di-cache"), provider.GetRequiredService<SnapshotStore>().Root);
    }
}

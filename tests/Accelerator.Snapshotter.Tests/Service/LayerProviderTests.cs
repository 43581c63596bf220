using Accelerator.Containerd.Api.Snapshots;
using Accelerator.Snapshotter.Metadata;
using Accelerator.Snapshotter.Tests.Support;
using Grpc.Core;

namespace Accelerator.Snapshotter.Tests.Service;

/// <summary>What the snapshotter does with registered <see cref="Layers.ILayerProvider"/>s: provide, resolve, adopt, release.</summary>
public sealed class LayerProviderTests : IAsyncLifetime
{
    private readonly ShortTempDirectory _directory = new();
    private DirectoryLayerProvider _provider = null!;
    private SnapshotterHost _host = null!;

    private static string ChainId(char c) => "sha256:" + new string(c, 64);

    public async Task InitializeAsync()
    {
        _provider = new DirectoryLayerProvider(_directory.Combine("store"));
        Directory.CreateDirectory(_directory.Combine("mnt"));
        _host = await SnapshotterHost.StartAsync(_directory.Combine("root"), _directory.Combine("run"), _provider);
    }

    public async Task DisposeAsync()
    {
        await _host.DisposeAsync();
        _directory.Dispose();
    }

    [Fact]
    public async Task Prepare_OfProvidedLayer_AlreadyExists_ThenChildMountsProvidersDirectory()
    {
        string chain = ChainId('1');
        string layer = Layer("remote-layer", ("from-provider", "yes"));
        _provider.Layers[chain] = (layer, false);
        var request = Prepare("extract-1", "", (SnapshotLabels.TargetReference, chain), ("containerd.io/snapshot/cri.image-ref", "registry/app:1"));

        var error = await Assert.ThrowsAsync<RpcException>(() => _host.Client.PrepareAsync(request).ResponseAsync);

        Assert.Equal(StatusCode.AlreadyExists, error.StatusCode);
        var info = (await _host.Client.StatAsync(new StatSnapshotRequest { Key = chain })).Info;
        Assert.Equal(Kind.Committed, info.Kind);
        Assert.Equal("registry/app:1", info.Labels["containerd.io/snapshot/cri.image-ref"]);
        await Assert.ThrowsAsync<RpcException>(() => _host.Client.StatAsync(new StatSnapshotRequest { Key = "extract-1" }).ResponseAsync);
        var asked = Assert.Single(_provider.Requests);
        Assert.Equal(("extract-1", chain, null), (asked.Key, asked.ChainId, asked.Parent));

        var view = (await _host.Client.ViewAsync(new ViewSnapshotRequest { Key = "view", Parent = chain })).Mounts;
        Assert.Equal(("bind", layer), (view[0].Type, view[0].Source));
        var active = (await _host.Client.PrepareAsync(Prepare("container", chain))).Mounts;
        Assert.Contains("lowerdir=" + layer, active[0].Options);
        using var mounted = SnapshotMounts.Mount(active, _directory.Combine("mnt"));
        Assert.Equal("yes", File.ReadAllText(mounted["from-provider"]));
    }

    [Fact]
    public async Task Prepare_ChainAlreadyCommitted_AlreadyExistsWithoutAskingProviders()
    {
        string chain = ChainId('2');
        await _host.Client.PrepareAsync(Prepare("extract"));
        await _host.Client.CommitAsync(new CommitSnapshotRequest { Name = chain, Key = "extract" });

        var error = await Assert.ThrowsAsync<RpcException>(() => _host.Client.PrepareAsync(Prepare("extract-again", "", (SnapshotLabels.TargetReference, chain))).ResponseAsync);

        Assert.Equal(StatusCode.AlreadyExists, error.StatusCode);
        Assert.Empty(_provider.Requests);
    }

    [Fact]
    public async Task Prepare_NotProvidedOrProviderFails_OrdinaryActiveSnapshot()
    {
        var unknown = await _host.Client.PrepareAsync(Prepare("extract-a", "", (SnapshotLabels.TargetReference, ChainId('3'))));
        _provider.Fail = true;
        var failing = await _host.Client.PrepareAsync(Prepare("extract-b", "", (SnapshotLabels.TargetReference, ChainId('4'))));

        Assert.Equal("bind", unknown.Mounts[0].Type);
        Assert.Equal("bind", failing.Mounts[0].Type);
        Assert.Equal(Kind.Active, (await _host.Client.StatAsync(new StatSnapshotRequest { Key = "extract-b" })).Info.Kind);
        Assert.Equal(2, _provider.Requests.Count);
    }

    [Fact]
    public async Task FlattenedLayer_CoversParents_NoParentDirectoryBelowIt()
    {
        string parentChain = ChainId('5');
        await _host.Client.PrepareAsync(Prepare("extract"));
        await _host.Client.CommitAsync(new CommitSnapshotRequest { Name = parentChain, Key = "extract" });
        string chain = ChainId('6');
        string flattened = Layer("flattened", ("whole-image", "1"));
        _provider.Layers[chain] = (flattened, true);
        await Assert.ThrowsAsync<RpcException>(() => _host.Client.PrepareAsync(Prepare("extract-2", parentChain, (SnapshotLabels.TargetReference, chain))).ResponseAsync);

        var active = (await _host.Client.PrepareAsync(Prepare("container", chain))).Mounts;

        Assert.Equal(parentChain, Assert.Single(_provider.Requests).Parent);
        Assert.Contains("lowerdir=" + flattened, active[0].Options);
    }

    [Fact]
    public async Task Commit_UnderChainId_AdoptedByProvider_ReleasedOnRemove()
    {
        _provider.Adopt = true;
        var mounts = (await _host.Client.PrepareAsync(Prepare("extract"))).Mounts;
        File.WriteAllText(Path.Combine(mounts[0].Source, "unpacked"), "u");
        string chain = ChainId('7');

        await _host.Client.CommitAsync(new CommitSnapshotRequest { Name = chain, Key = "extract" });

        string adopted = _provider.Layers[chain].Directory;
        Assert.Equal("u", File.ReadAllText(Path.Combine(adopted, "unpacked")));
        Assert.False(Directory.Exists(Path.GetDirectoryName(mounts[0].Source)));
        var view = (await _host.Client.ViewAsync(new ViewSnapshotRequest { Key = "view", Parent = chain })).Mounts;
        Assert.Equal(adopted, view[0].Source);

        await _host.Client.CommitAsync(new CommitSnapshotRequest { Name = "not-a-chain-id", Key = (await PrepareKeyAsync("other")) });
        Assert.Equal(Kind.Committed, (await _host.Client.StatAsync(new StatSnapshotRequest { Key = "not-a-chain-id" })).Info.Kind);
        Assert.False(_provider.Layers.ContainsKey("not-a-chain-id"));

        await _host.Client.RemoveAsync(new RemoveSnapshotRequest { Key = "view" });
        await _host.Client.RemoveAsync(new RemoveSnapshotRequest { Key = chain });
        Assert.Equal(chain, Assert.Single(_provider.Released).Properties["chain"]);
    }

    private async Task<string> PrepareKeyAsync(string key)
    {
        await _host.Client.PrepareAsync(Prepare(key));
        return key;
    }

    private string Layer(string name, params (string File, string Content)[] files)
    {
        string directory = _directory.Combine("layers", name);
        Directory.CreateDirectory(directory);
        foreach (var (file, content) in files)
        {
            File.WriteAllText(Path.Combine(directory, file), content);
        }

        return directory;
    }

    private static PrepareSnapshotRequest Prepare(string key, string parent = "", params (string Key, string Value)[] labels)
    {
        var request = new PrepareSnapshotRequest { Key = key, Parent = parent };
        foreach (var (k, v) in labels)
        {
            request.Labels[k] = v;
        }

        return request;
    }
}

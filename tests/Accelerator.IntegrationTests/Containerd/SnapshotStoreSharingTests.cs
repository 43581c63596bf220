using System.Net.Sockets;
using System.Text;
using Accelerator.Containerd.Api.Snapshots;
using Accelerator.Linux;
using Accelerator.Oci.Registry;
using Accelerator.Oci.Resolution;
using Accelerator.Testing.Images;
using Accelerator.Testing.Processes;
using Accelerator.Testing.Registry;
using Accelerator.Testing.Trees;
using Grpc.Core;
using Grpc.Net.Client;

namespace Accelerator.IntegrationTests.Containerd;

/// <summary>
/// One real docker-registry with two real Debian corpus images, one <c>accel snapshotter</c> (root ROOT, snapshot
/// store ROOT/cache) and one private containerd using it as the proxy snapshotter <c>accel</c>.
/// </summary>
public sealed class SnapshotStoreSharingFixture : IAsyncLifetime
{
    public string WorkDirectory { get; } = Directory.CreateTempSubdirectory("accel-store-sharing-").FullName;

    public string Root => Path.Combine(WorkDirectory, "root");

    public string Store => Path.Combine(Root, "cache");

    public string Socket => Path.Combine(WorkDirectory, "run", "snapshotter.sock");

    public DockerRegistryProcess Registry { get; private set; } = null!;

    public ContainerdProcess Containerd { get; private set; } = null!;

    public AccelProcess Snapshotter { get; private set; } = null!;

    public RegistryClient Client { get; } = new(new RegistryOptions { PlainHttp = true, DockerConfigPath = TestRegistryOptions.NoDockerConfig });

    public async Task InitializeAsync()
    {
        Registry = await DockerRegistryProcess.StartAsync();
        Snapshotter = AccelProcess.Start("snapshotter", "--address", Socket, "--root", Root);
        await Snapshotter.WaitForOutputAsync("Snapshotter listening", TimeSpan.FromMinutes(1));
        var options = new ContainerdProcessOptions();
        options.ProxySnapshotters["accel"] = Socket;
        Containerd = await ContainerdProcess.StartAsync(options);
    }

    public async Task DisposeAsync()
    {
        if (Containerd is not null)
        {
            await Containerd.DisposeAsync();
        }

        if (Snapshotter is not null)
        {
            await Snapshotter.TerminateAsync();
            await Snapshotter.DisposeAsync();
        }

        if (Registry is not null)
        {
            await Registry.DisposeAsync();
        }

        Client.Dispose();
        FuseHolderProcesses.StopUnder(WorkDirectory);
        foreach (string mount in MountTable.MountPointsUnder(MountTable.Read(), WorkDirectory).OrderByDescending(m => m.Length))
        {
            FileSystemMount.Unmount(mount);
        }

        Directory.Delete(WorkDirectory, recursive: true);
    }

    /// <summary>The corpus image <paramref name="name"/> pushed to the registry, with umoci's unpack of it.</summary>
    public async Task<(DebianImage Image, ImageReference Reference, TreeSnapshot Expected)> PushAsync(string name)
    {
        DebianImage image = await DebianImageCorpus.GetAsync(name);
        await image.PushAsync(Registry.Host, "sharing/" + name);
        string rootfs = await image.UnpackWithUmociAsync(Path.Combine(WorkDirectory, "umoci-" + name));
        var expected = TreeSnapshot.Capture(rootfs);
        Directory.Delete(Path.GetDirectoryName(rootfs)!, recursive: true);
        return (image, ImageReference.Parse($"{Registry.Host}/sharing/{name}:{image.Tag}"), expected);
    }
}

/// <summary>
/// The snapshotter's committed layers and the snapshot cache are one store: a warmed image reaches containerd with no
/// layer download, and an image containerd unpacked is warmed with none.
/// </summary>
public sealed class SnapshotStoreSharingTests(SnapshotStoreSharingFixture fixture) : IClassFixture<SnapshotStoreSharingFixture>
{
    private static async Task<(int ExitCode, string Out, string Error)> AccelAsync(params string[] args) => await AccelProcess.RunAsync(args);

    private static int LayerBlobRequests(string log, IEnumerable<Descriptor> layers)
        => log.Split('\n').Count(line => layers.Any(l => line.Contains("/blobs/" + l.Digest, StringComparison.Ordinal)));

    private async Task<(IReadOnlyList<Descriptor> Layers, IReadOnlyList<Digest> ChainIds)> LayersOfAsync(ImageReference reference)
    {
        var resolved = await ImageResolver.ResolveAsync(fixture.Client.GetStore(reference.Registry), reference);
        var diffIds = resolved.Config.Rootfs!.DiffIds!;
        var chain = new List<Digest>();
        foreach (var diffId in diffIds)
        {
            chain.Add(chain.Count == 0 ? diffId : Digest.Compute(Encoding.ASCII.GetBytes($"{chain[^1]} {diffId}")));
        }

        return (resolved.Layers, chain);
    }

    [Fact]
    public async Task CacheWarm_ThenContainerdUnpacksWithSnapshotRefLabels_EveryLayerAlreadyExistsNoBlobFetchedAndItRuns()
    {
        var (image, reference, expected) = await fixture.PushAsync(DebianImageCorpus.Layered);
        var (layers, chainIds) = await LayersOfAsync(reference);
        var warm = await AccelAsync("--plain-http", "cache", "warm", "--cache-dir", fixture.Store, reference.ToString());
        Assert.True(warm.ExitCode == 0, warm.Error);
        int before = fixture.Registry.ReadLog().Length;

        // What containerd's unpacker sends for each layer (containerd.io/snapshot.ref = the chain ID), through
        // containerd's own snapshots service, so its metadata store records the remote snapshots.
        using var channel = ContainerdChannel(fixture.Containerd.Address);
        var snapshots = new Accelerator.Containerd.Api.Snapshots.Snapshots.SnapshotsClient(channel);
        var headers = new Metadata { { "containerd-namespace", fixture.Containerd.Namespace } };
        string? parent = null;
        foreach (var chainId in chainIds)
        {
            var request = new PrepareSnapshotRequest { Snapshotter = "accel", Key = $"extract-{Guid.NewGuid():N} {chainId}", Parent = parent ?? "" };
            request.Labels.Add("containerd.io/snapshot.ref", chainId.ToString());
            var error = await Assert.ThrowsAsync<RpcException>(async () => await snapshots.PrepareAsync(request, headers));
            Assert.True(error.StatusCode == StatusCode.AlreadyExists, error + "\n" + fixture.Snapshotter.Output + fixture.Snapshotter.Error);
            var stat = await snapshots.StatAsync(new StatSnapshotRequest { Snapshotter = "accel", Key = chainId.ToString() }, headers);
            Assert.Equal(Accelerator.Containerd.Api.Snapshots.Kind.Committed, stat.Info.Kind);
            parent = chainId.ToString();
        }

        // The image's tree, as containerd mounts a view of its top layer, equals umoci's unpack.
        var view = await snapshots.ViewAsync(new ViewSnapshotRequest { Snapshotter = "accel", Key = "view-" + Guid.NewGuid().ToString("N"), Parent = parent! }, headers);
        string mountPoint = Directory.CreateDirectory(Path.Combine(fixture.WorkDirectory, "view-" + Guid.NewGuid().ToString("N")[..8])).FullName;
        var mount = Assert.Single(view.Mounts);
        FileSystemMount.Mount(mount.Source, mountPoint, mount.Type, mount.Type == "bind" ? MountFlags.Bind : MountFlags.ReadOnly, mount.Type == "bind" ? null : string.Join(',', mount.Options.Where(o => o != "ro")));
        try
        {
            var differences = TreeSnapshot.Compare(expected, TreeSnapshot.Capture(mountPoint));
            Assert.True(differences.Count == 0, "containerd's view differs from umoci's unpack:\n" + string.Join("\n", differences.Take(50)));
        }
        finally
        {
            FileSystemMount.Unmount(mountPoint);
        }

        // The image into containerd the same way (`accel containerd pull`, which sends the labels `ctr` does not), and a
        // container from it: still no layer blob fetched.
        var pull = await AccelProcess.RunAsync(
            "containerd", "pull", reference.ToString(),
            "--address", fixture.Containerd.Address, "--namespace", fixture.Containerd.Namespace, "--snapshotter", "accel", "--plain-http");
        Assert.True(pull.ExitCode == 0, pull.Error);
        string run = await fixture.Containerd.CtrAsync(["run", "--rm", "--snapshotter", "accel", reference.ToString(), "warmed-" + Guid.NewGuid().ToString("N")[..8], .. image.Command]);
        Assert.All(image.ExpectedOutput, e => Assert.Contains(e, run, StringComparison.Ordinal));

        Assert.Equal(0, LayerBlobRequests(fixture.Registry.ReadLog()[before..], layers));
        Assert.Equal(image.LayerCount, chainIds.Count);
    }

    [Fact]
    public async Task CtrPull_ThenCacheWarm_NoBlobFetchedAndCloneEqualsUmoci()
    {
        var (image, reference, expected) = await fixture.PushAsync(DebianImageCorpus.Dotnet);
        var (layers, chainIds) = await LayersOfAsync(reference);
        await fixture.Containerd.CtrAsync(["image", "pull", "--plain-http", "--snapshotter", "accel", reference.ToString()]);
        // Committed layers moved into the store.
        Assert.All(chainIds, c => Assert.True(File.Exists(Path.Combine(fixture.Store, "layers", c.Encoded, "layer.json")), $"layer {c} is not in the store\n{fixture.Snapshotter.Output}{fixture.Snapshotter.Error}"));
        string run = await fixture.Containerd.CtrAsync(["run", "--rm", "--snapshotter", "accel", reference.ToString(), "store-sharing-" + Guid.NewGuid().ToString("N")[..8], .. image.Command]);
        Assert.All(image.ExpectedOutput, e => Assert.Contains(e, run, StringComparison.Ordinal));
        int before = fixture.Registry.ReadLog().Length;

        var warm = await AccelAsync("--plain-http", "cache", "warm", "--cache-dir", fixture.Store, reference.ToString());
        Assert.True(warm.ExitCode == 0, warm.Error);
        var list = await AccelAsync("cache", "list", "--cache-dir", fixture.Store);
        Assert.True(list.ExitCode == 0, list.Error);
        string mountPoint = Directory.CreateDirectory(Path.Combine(fixture.WorkDirectory, "clone-" + Guid.NewGuid().ToString("N")[..8])).FullName;
        var mount = await AccelAsync("cache", "mount", "--cache-dir", fixture.Store, "--read-only", "--no-resolve", reference.ToString(), mountPoint);
        Assert.True(mount.ExitCode == 0, mount.Error);
        try
        {
            // The root's mtime is the one exception, as under containerd's own overlay snapshotter: a layer without a
            // "./" entry leaves the root directory containerd created for it, stamped with the time of the unpack.
            var differences = TreeSnapshot.Compare(expected, TreeSnapshot.Capture(mountPoint)).Where(d => d is not { Path: ".", Field: "mtime" }).ToList();
            Assert.True(differences.Count == 0, "the clone differs from umoci's unpack:\n" + string.Join("\n", differences.Take(50)));
        }
        finally
        {
            FileSystemMount.Unmount(mountPoint);
        }

        Assert.Equal(0, LayerBlobRequests(fixture.Registry.ReadLog()[before..], layers));
        Assert.Contains(reference.Repository, list.Out, StringComparison.Ordinal);

        // containerd removing the image releases the pins; the layers stay for the cache (the image record uses them).
        await fixture.Containerd.CtrAsync(["image", "rm", "--sync", reference.ToString()]);
        Assert.All(chainIds, c => Assert.True(Directory.Exists(Path.Combine(fixture.Store, "layers", c.Encoded, "fs"))));
        Assert.All(chainIds, c => Assert.False(Directory.Exists(Path.Combine(fixture.Store, "pins", c.Encoded)), $"layer {c} is still pinned\n{fixture.Snapshotter.Output}"));
    }

    private static GrpcChannel ContainerdChannel(string socketPath) => GrpcChannel.ForAddress("http://localhost", new GrpcChannelOptions
    {
        HttpHandler = new SocketsHttpHandler
        {
            ConnectCallback = async (_, cancellationToken) =>
            {
                var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                try
                {
                    await socket.ConnectAsync(new UnixDomainSocketEndPoint(socketPath), cancellationToken);
                    return new NetworkStream(socket, ownsSocket: true);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            },
        },
    });
}

using System.Net.Sockets;
using System.Text.Json;
using Accelerator.Containerd.Api.Snapshots;
using Accelerator.Lazy.Conversion;
using Accelerator.Linux;
using Accelerator.Oci.Model;
using Accelerator.Oci.Registry;
using Accelerator.Snapshotter.Remote;
using Accelerator.Testing.Images;
using Accelerator.Testing.Processes;
using Accelerator.Testing.Registry;
using Accelerator.Testing.Trees;
using Grpc.Core;
using Grpc.Net.Client;

namespace Accelerator.IntegrationTests.Containerd;

/// <summary>
/// Remote snapshots end to end: the real <c>accel snapshotter</c> as containerd's proxy snapshotter, a real
/// docker-registry with the real three-layer Debian corpus image and its lazy variant, and containerd's own snapshots
/// API driven with the labels the CRI plugin sends on a pull (what containerd's unpacker does for each layer).
/// </summary>
public sealed class RemoteSnapshotsContainerdTests(RemoteSnapshotsContainerdFixture fixture) : IClassFixture<RemoteSnapshotsContainerdFixture>
{
    [Fact]
    public async Task Prepare_ConvertedImage_AlreadyExistsNoLayerFetchedContainerRunsAndSurvivesRestart()
    {
        var layers = await fixture.DescribeAsync(fixture.Converted);
        int gets = layers.LayerDigests.Sum(fixture.BlobGets);

        // containerd's unpacker: Prepare each layer with its labels; AlreadyExists means the snapshotter has it.
        for (int depth = 0; depth < layers.ChainIds.Count; depth++)
        {
            var error = await Record.ExceptionAsync(() => fixture.Snapshots.PrepareAsync(fixture.PrepareRequest(layers, depth), fixture.Headers).ResponseAsync);
            Assert.True(error is RpcException { StatusCode: StatusCode.AlreadyExists }, $"Layer {depth}: {error?.Message ?? "prepared"}; the snapshotter said:\n{fixture.Snapshotter.Error}");
            var info = await fixture.Snapshots.StatAsync(new StatSnapshotRequest { Snapshotter = "accel", Key = layers.ChainIds[depth] }, fixture.Headers);
            Assert.Equal(Kind.Committed, info.Info.Kind);
        }

        Assert.Equal(gets, layers.LayerDigests.Sum(fixture.BlobGets));

        // A read-only view of the image is the image: umoci's unpack of it.
        string view = $"view-{Guid.NewGuid():N}";
        var viewMounts = await fixture.Snapshots.ViewAsync(new ViewSnapshotRequest { Snapshotter = "accel", Key = view, Parent = layers.ChainIds[^1], Labels = { [RemoteSnapshotsContainerdFixture.GcRoot] = "test" } }, fixture.Headers);
        string viewTarget = fixture.NewDirectory("view");
        Mount(viewMounts.Mounts, viewTarget);
        try
        {
            var differences = TreeSnapshot.Compare(fixture.Expected, TreeSnapshot.Capture(viewTarget));
            Assert.True(differences.Count == 0, "The view differs from umoci's unpack:\n" + string.Join("\n", differences.Take(50)));
        }
        finally
        {
            FileSystemMount.Unmount(viewTarget);
        }

        // A container's active snapshot: runc runs the image's program on it.
        string key = $"container-{Guid.NewGuid():N}";
        var mounts = await fixture.Snapshots.PrepareAsync(new PrepareSnapshotRequest { Snapshotter = "accel", Key = key, Parent = layers.ChainIds[^1], Labels = { [RemoteSnapshotsContainerdFixture.GcRoot] = "test" } }, fixture.Headers);
        await RunImageCommandAsync(mounts.Mounts);

        // The status shows the decision.
        var (exit, json, error2) = await AccelProcess.RunAsync("snapshotter", "status", "--address", fixture.Socket, "--json");
        Assert.True(exit == 0, error2);
        var status = JsonSerializer.Deserialize(json, RemoteSnapshotsJsonContext.Default.IReadOnlyListRemoteImageStatus)!;
        Assert.True(status.Count(s => s.Image == fixture.Converted.ToString()) == 1, json + "\n" + fixture.Snapshotter.Error);
        var image = status.Single(s => s.Image == fixture.Converted.ToString());
        Assert.True(image.Strategy == "lazy", json);
        Assert.Equal(layers.ChainIds.Count, image.Snapshots);

        // Stopped and started again on the same root: the stopped daemon left the lazy mount to the FUSE holder and the
        // new one takes it over at start (issue 15); the container's snapshot works on it.
        await fixture.RestartSnapshotterAsync();
        var again = await fixture.Snapshots.MountsAsync(new MountsRequest { Snapshotter = "accel", Key = key }, fixture.Headers);
        await RunImageCommandAsync(again.Mounts);
        Assert.Contains("Took over the lazy mount", fixture.Snapshotter.Error, StringComparison.Ordinal);
        Assert.Equal(gets, layers.LayerDigests.Sum(fixture.BlobGets));
        await fixture.Snapshots.RemoveAsync(new RemoveSnapshotRequest { Snapshotter = "accel", Key = key }, fixture.Headers);
        await fixture.Snapshots.RemoveAsync(new RemoveSnapshotRequest { Snapshotter = "accel", Key = view }, fixture.Headers);
    }

    [Fact]
    public async Task Prepare_UnconvertedImage_LeftToContainerdAndFallbackVisible()
    {
        var layers = await fixture.DescribeAsync(fixture.Unconverted);

        var prepared = await fixture.Snapshots.PrepareAsync(fixture.PrepareRequest(layers, 0), fixture.Headers);

        Assert.NotEmpty(prepared.Mounts);
        var (exit, table, error) = await AccelProcess.RunAsync("snapshotter", "status", "--address", fixture.Socket);
        Assert.True(exit == 0, error);
        string line = Assert.Single(table.Split('\n'), l => l.StartsWith(fixture.Unconverted.ToString(), StringComparison.Ordinal));
        Assert.Contains(RemoteLayerProvider.Ordinary, line, StringComparison.Ordinal);
        Assert.Contains("lazy", line, StringComparison.Ordinal);
        await fixture.Snapshots.RemoveAsync(new RemoveSnapshotRequest { Snapshotter = "accel", Key = fixture.PrepareRequest(layers, 0).Key }, fixture.Headers);
    }

    private async Task RunImageCommandAsync(IEnumerable<Accelerator.Containerd.Api.Types.Mount> mounts)
    {
        string rootfs = fixture.NewDirectory("rootfs");
        Mount(mounts, rootfs);
        try
        {
            string output = await fixture.Containerd.CtrAsync(
                ["run", "--rm", "--rootfs", rootfs, $"remote-{Guid.NewGuid():N}"[..30], .. fixture.Image.Command]);
            foreach (string expected in fixture.Image.ExpectedOutput)
            {
                Assert.Contains(expected, output, StringComparison.Ordinal);
            }
        }
        finally
        {
            FileSystemMount.Unmount(rootfs);
        }
    }

    // Mounts what a snapshotter answered, as containerd's mount package does for these two types.
    private static void Mount(IEnumerable<Accelerator.Containerd.Api.Types.Mount> mounts, string target)
    {
        var mount = Assert.Single(mounts);
        if (mount.Type == "bind")
        {
            FileSystemMount.Mount(mount.Source, target, "", MountFlags.Bind, null);
            if (mount.Options.Contains("ro"))
            {
                FileSystemMount.Mount("", target, "", MountFlags.Bind | MountFlags.Remount | MountFlags.ReadOnly, null);
            }

            return;
        }

        Assert.Equal("overlay", mount.Type);
        FileSystemMount.Mount("overlay", target, "overlay", MountFlags.None, string.Join(",", mount.Options));
    }
}

/// <summary>One registry with the layered corpus image (converted and not), one <c>accel snapshotter</c>, one containerd.</summary>
public sealed class RemoteSnapshotsContainerdFixture : IAsyncLifetime
{
    public string WorkDirectory { get; } = Directory.CreateTempSubdirectory("accel-rs-").FullName;

    public string Socket => Path.Combine(WorkDirectory, "s.sock");

    public string Root => Path.Combine(WorkDirectory, "root");

    public DockerRegistryProcess Registry { get; private set; } = null!;

    public ContainerdProcess Containerd { get; private set; } = null!;

    public AccelProcess Snapshotter { get; private set; } = null!;

    public RegistryClient Client { get; } = new(TestRegistryOptions.Create());

    public DebianImage Image { get; private set; } = null!;

    public ImageReference Converted { get; private set; } = null!;

    public ImageReference Unconverted { get; private set; } = null!;

    public TreeSnapshot Expected { get; private set; } = null!;

    public GrpcChannel Channel { get; private set; } = null!;

    public Accelerator.Containerd.Api.Snapshots.Snapshots.SnapshotsClient Snapshots { get; private set; } = null!;

    public Metadata Headers { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Registry = await DockerRegistryProcess.StartAsync();
        Image = await DebianImageCorpus.GetAsync(DebianImageCorpus.Layered);
        await Image.PushAsync(Registry.Host, "corpus/layered");
        await Image.PushAsync(Registry.Host, "plain/layered");
        Converted = ImageReference.Parse($"{Registry.Host}/corpus/layered:{Image.Tag}");
        Unconverted = ImageReference.Parse($"{Registry.Host}/plain/layered:{Image.Tag}");
        var store = Client.GetStore(Registry.Host);
        await LazyConverter.ConvertAsync(store, Converted, store, LazyConverter.DefaultTarget(Converted));
        Expected = TreeSnapshot.Capture(await Image.UnpackWithUmociAsync(Path.Combine(WorkDirectory, "umoci")));

        await StartSnapshotterAsync();
        var options = new ContainerdProcessOptions();
        options.ProxySnapshotters["accel"] = Socket;
        Containerd = await ContainerdProcess.StartAsync(options);
        Headers = new Metadata { { "containerd-namespace", Containerd.Namespace } };
        Channel = CreateChannel(Containerd.Address);
        Snapshots = new Accelerator.Containerd.Api.Snapshots.Snapshots.SnapshotsClient(Channel);
    }

    public async Task DisposeAsync()
    {
        Channel?.Dispose();
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
        foreach (string mountPoint in MountTable.MountPointsUnder(MountTable.Read(), WorkDirectory))
        {
            FileSystemMount.Unmount(mountPoint);
        }

        Directory.Delete(WorkDirectory, recursive: true);
    }

    public async Task RestartSnapshotterAsync()
    {
        Assert.Equal(0, await Snapshotter.TerminateAsync());
        await Snapshotter.DisposeAsync();
        await StartSnapshotterAsync();
        // containerd's proxy client reconnects after a back-off (at most 3 s in containerd 1.6); until then calls fail
        // with Unavailable, as a kubelet's would, and are retried.
        for (int attempt = 1; ; attempt++)
        {
            try
            {
                // containerd's metadata layer answers NotFound for a key it does not know without asking the daemon:
                // only a listing of the namespace's snapshots (a Stat of each in the daemon) shows the daemon answers.
                await Snapshots.UsageAsync(new UsageRequest { Snapshotter = "accel", Key = "not-there" }, Headers);
                await Containerd.WaitForSnapshotterAsync("accel");
                return;
            }
            catch (RpcException ex) when (ex.StatusCode == StatusCode.NotFound)
            {
                await Containerd.WaitForSnapshotterAsync("accel");
                return;
            }
            catch (RpcException ex) when (ex.StatusCode == StatusCode.Unavailable && attempt < 60)
            {
                await Task.Delay(500);
            }
        }
    }

    public string NewDirectory(string name) => Directory.CreateDirectory(Path.Combine(WorkDirectory, name + "-" + Guid.NewGuid().ToString("N")[..8])).FullName;

    public async Task<PulledLayers> DescribeAsync(ImageReference image)
    {
        var store = Client.GetStore(image.Registry);
        ManifestDocument document = await store.GetManifestAsync(image);
        var config = OciJson.Deserialize<ImageConfig>(
            await store.Blobs.ReadAllBytesAsync(BlobAddress.For(image.Repository, document.Manifest!.Config), 1 << 20), "config");
        var chain = new List<string>();
        foreach (var diffId in config.Rootfs!.DiffIds)
        {
            chain.Add(chain.Count == 0 ? diffId.ToString() : Digest.Compute(System.Text.Encoding.UTF8.GetBytes(chain[^1] + " " + diffId)).ToString());
        }

        return new PulledLayers(image, document.Digest, document.Manifest.Layers.Select(l => l.Digest).ToList(), chain);
    }

    /// <summary>The Prepare containerd's unpacker sends for layer <paramref name="depth"/> of a CRI pull.</summary>
    public PrepareSnapshotRequest PrepareRequest(PulledLayers layers, int depth) => new()
    {
        Snapshotter = "accel",
        Key = $"extract-{depth} {layers.ChainIds[depth]}",
        Parent = depth == 0 ? "" : layers.ChainIds[depth - 1],
        Labels =
        {
            ["containerd.io/snapshot.ref"] = layers.ChainIds[depth],
            ["containerd.io/snapshot/cri.image-ref"] = layers.Image.ToString(),
            ["containerd.io/snapshot/cri.manifest-digest"] = layers.ManifestDigest.ToString(),
            ["containerd.io/snapshot/cri.layer-digest"] = layers.LayerDigests[depth].ToString(),
            ["containerd.io/snapshot/cri.image-layers"] = string.Join(",", layers.LayerDigests.Skip(depth)),
            [GcRoot] = "test",
        },
    };

    /// <summary>
    /// Keeps a snapshot from containerd's garbage collector, which removes snapshots nothing references (containerd's
    /// unpacker holds a lease instead).
    /// </summary>
    public const string GcRoot = "containerd.io/gc.root";

    public int BlobGets(Digest blob) => Registry.ReadLog().Split('\n').Count(l =>
        l.Contains("response completed", StringComparison.Ordinal)
        && l.Contains("http.request.method=GET", StringComparison.Ordinal)
        && l.Contains($"/blobs/{blob}", StringComparison.Ordinal));

    private async Task StartSnapshotterAsync()
    {
        Snapshotter = AccelProcess.Start("snapshotter", "--address", Socket, "--root", Root, "--plain-http");
        await Snapshotter.WaitForOutputAsync("Snapshotter listening", TimeSpan.FromSeconds(60));
    }

    private static GrpcChannel CreateChannel(string address)
    {
        var handler = new SocketsHttpHandler
        {
            ConnectCallback = async (_, cancellationToken) =>
            {
                var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                try
                {
                    await socket.ConnectAsync(new UnixDomainSocketEndPoint(address), cancellationToken);
                    return new NetworkStream(socket, ownsSocket: true);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            },
        };
        return GrpcChannel.ForAddress("http://localhost", new GrpcChannelOptions { HttpHandler = handler });
    }
}

/// <summary>An image's manifest digest, layer digests and chain IDs, as a CRI pull describes them.</summary>
public sealed record PulledLayers(ImageReference Image, Digest ManifestDigest, IReadOnlyList<Digest> LayerDigests, IReadOnlyList<string> ChainIds);

using System.Text.Json;
using Accelerator.Block.Conversion;
using Accelerator.Containerd.Api.Cri;
using Accelerator.Lazy.Conversion;
using Accelerator.Linux;
using Accelerator.Oci.Copying;
using Accelerator.Oci.Layout;
using Accelerator.Oci.Registry;
using Accelerator.Snapshotter.Remote;
using Accelerator.Testing.Cri;
using Accelerator.Testing.Images;
using Accelerator.Testing.Processes;
using Accelerator.Testing.Registry;

namespace Accelerator.IntegrationTests.Containerd;

/// <summary>
/// Every strategy through kubelet's path: containerd's CRI plugin with <c>snapshotter = "accel"</c>, the real
/// <c>accel snapshotter --plain-http --cri-proxy</c>, and images that share no layer (so each decision is its own; a
/// layer containerd already has is never asked for again): the Debian python3 image with its lazy variant, the minbase
/// image with only its block variant, the .NET image warmed into <c>ROOT/cache</c> with <c>accel cache warm</c> before
/// the daemon started, the busybox sandbox image with no variant, and a busybox image of its own with a lazy variant in
/// each private registry (basic and token auth).
/// </summary>
public sealed class CriRemoteSnapshotsFixture : IAsyncLifetime
{
    public const string ReadyLine = "Snapshotter listening on";

    // Short, like /var/lib/accel and /run/accel: the overlay options of a container name every layer's directory.
    public string Directory { get; } = System.IO.Directory.CreateTempSubdirectory("accel-cr-").FullName;

    public string Root => Path.Combine(Directory, "root");

    public string Socket => Path.Combine(Directory, "run", "s.sock");

    public string CriSocket => Path.Combine(Directory, "run", "cri.sock");

    public DockerRegistryProcess Registry { get; private set; } = null!;

    public PrivateRegistries Private { get; private set; } = null!;

    public ContainerdProcess Containerd { get; private set; } = null!;

    public AccelProcess Snapshotter { get; private set; } = null!;

    public CriClient Cri { get; private set; } = null!;

    public RegistryClient Client { get; } = new(TestRegistryOptions.Create());

    public string SandboxImageReference { get; private set; } = null!;

    public DebianImage Python { get; private set; } = null!;

    public ImageReference Lazy { get; private set; } = null!;

    public DebianImage Minbase { get; private set; } = null!;

    public ImageReference Block { get; private set; } = null!;

    public DebianImage Dotnet { get; private set; } = null!;

    public ImageReference Warm { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        var registry = DockerRegistryProcess.StartAsync();
        var privateRegistries = PrivateRegistries.StartAsync();
        Registry = await registry;
        Private = await privateRegistries;
        SandboxImageReference = await SandboxImage.PushAsync(Registry.Host, Directory);
        var store = Client.GetStore(Registry.Host);

        Python = await DebianImageCorpus.GetAsync(DebianImageCorpus.PythonNginx);
        await Python.PushAsync(Registry.Host, "lazy/python");
        Lazy = ImageReference.Parse($"{Registry.Host}/lazy/python:{Python.Tag}");
        await LazyConverter.ConvertAsync(store, Lazy, store, LazyConverter.DefaultTarget(Lazy));

        Minbase = await DebianImageCorpus.GetAsync(DebianImageCorpus.Minbase);
        await Minbase.PushAsync(Registry.Host, "block/minbase");
        Block = ImageReference.Parse($"{Registry.Host}/block/minbase:{Minbase.Tag}");
        await BlockConverter.ConvertAsync(store, Block, store, BlockConverter.DefaultTarget(Block), new BlockConvertOptions { TempDirectory = Directory });

        Dotnet = await DebianImageCorpus.GetAsync(DebianImageCorpus.Dotnet);
        await Dotnet.PushAsync(Registry.Host, "warm/dotnet");
        Warm = ImageReference.Parse($"{Registry.Host}/warm/dotnet:{Dotnet.Tag}");
        var (warmExit, _, warmError) = await AccelProcess.RunAsync("cache", "warm", Warm.ToString(), "--snapshot-dir", Path.Combine(Root, "cache"), "--plain-http");
        Assert.True(warmExit == 0, warmError);

        foreach (var mode in new[] { RegistryAuthMode.Basic, RegistryAuthMode.Token })
        {
            string layout = await SandboxImage.WriteLayoutAsync(Directory, marker: $"private {mode}");
            var reference = PrivateReference(mode);
            var privateStore = Private.Client.GetStore(reference.Registry);
            await ImageCopier.CopyAsync(OciImageLayout.Open(layout), ImageReference.Parse($"oci:{layout}:{SandboxImage.Tag}"), privateStore, reference);
            await LazyConverter.ConvertAsync(privateStore, reference, privateStore, LazyConverter.DefaultTarget(reference));
        }

        var cri = new ContainerdCriOptions { SandboxImage = SandboxImageReference, Snapshotter = "accel" };
        cri.PlainHttpRegistries.Add(Registry.Host);
        cri.PlainHttpRegistries.Add(Private.Basic.Host);
        cri.PlainHttpRegistries.Add(Private.Token.Host);
        var options = new ContainerdProcessOptions { Cri = cri };
        options.ProxySnapshotters["accel"] = Socket;
        // containerd connects to its proxy snapshotter when it first needs it; the CRI proxy needs containerd's socket.
        Containerd = await ContainerdProcess.StartAsync(options);
        Snapshotter = AccelProcess.Start("snapshotter", "--address", Socket, "--root", Root, "--plain-http", "--cri-proxy", CriSocket, "--cri-endpoint", Containerd.Address);
        await Snapshotter.WaitForOutputAsync(ReadyLine, TimeSpan.FromMinutes(1));
        await Containerd.WaitForSnapshotterAsync("accel");
        Cri = CriClient.Connect(Containerd.Address, imageEndpoint: CriSocket);
    }


    public async Task DisposeAsync()
    {
        if (Cri is not null)
        {
            await Cri.RemoveAllPodsAsync();
            Cri.Dispose();
        }

        if (Containerd is not null)
        {
            await Containerd.DisposeAsync();
        }

        if (Snapshotter is not null)
        {
            await Snapshotter.TerminateAsync();
            await Snapshotter.DisposeAsync();
        }

        if (Private is not null)
        {
            await Private.DisposeAsync();
        }

        if (Registry is not null)
        {
            await Registry.DisposeAsync();
        }

        Client.Dispose();
        FuseHolderProcesses.StopUnder(Directory);
        foreach (string mountPoint in MountTable.MountPointsUnder(MountTable.Read(), Directory))
        {
            FileSystemMount.Unmount(mountPoint);
        }

        System.IO.Directory.Delete(Directory, recursive: true);
    }

    public ImageReference PrivateReference(RegistryAuthMode mode) => ImageReference.Parse($"{Private.Get(mode).Host}/private/busybox:{SandboxImage.Tag}");

    public string NewDirectory(string name) => System.IO.Directory.CreateDirectory(Path.Combine(Directory, name + "-" + Guid.NewGuid().ToString("N")[..8])).FullName;

    /// <summary>The layer digests of <paramref name="image"/>'s manifest.</summary>
    public async Task<IReadOnlyList<(Digest Digest, long Size)>> LayersAsync(ImageReference image)
    {
        var manifest = await Client.GetStore(image.Registry).GetManifestAsync(image);
        return [.. manifest.Manifest!.Layers.Select(l => (l.Digest, l.Size))];
    }

    /// <summary>GETs of <paramref name="blob"/> the registry answered, and the bytes it wrote for them.</summary>
    public (int Count, long Bytes) BlobGets(Digest blob)
    {
        var lines = Registry.ReadLog().Split('\n').Where(l =>
            l.Contains("response completed", StringComparison.Ordinal)
            && l.Contains("http.request.method=GET", StringComparison.Ordinal)
            && l.Contains($"/blobs/{blob}", StringComparison.Ordinal)).ToList();
        long bytes = 0;
        foreach (string line in lines)
        {
            int at = line.IndexOf("http.response.written=", StringComparison.Ordinal);
            if (at >= 0)
            {
                string value = new([.. line[(at + "http.response.written=".Length)..].TakeWhile(char.IsAsciiDigit)]);
                bytes += long.Parse(value, System.Globalization.CultureInfo.InvariantCulture);
            }
        }

        return (lines.Count, bytes);
    }

    /// <summary>What <c>accel snapshotter status --json</c> says about <paramref name="image"/>.</summary>
    public async Task<RemoteImageStatus> StatusAsync(ImageReference image)
    {
        var (exit, json, error) = await AccelProcess.RunAsync("snapshotter", "status", "--address", Socket, "--json");
        Assert.True(exit == 0, error);
        var status = JsonSerializer.Deserialize(json, RemoteSnapshotsJsonContext.Default.IReadOnlyListRemoteImageStatus)!;
        return Assert.Single(status, s => s.Image == image.ToString());
    }
}

/// <summary>Lazy, block, pre-warmed cache and unconverted images started by CRI on <c>accel snapshotter</c>; private registries with credentials from the pull only; two pods at once.</summary>
public sealed class CriRemoteSnapshotsTests(CriRemoteSnapshotsFixture fixture) : IClassFixture<CriRemoteSnapshotsFixture>
{
    private static readonly TimeSpan RunTimeout = TimeSpan.FromMinutes(3);

    private const string PythonCheck = "import ssl, sqlite3, json; print(json.dumps({'sqlite': sqlite3.connect(':memory:').execute('select 6 * 7').fetchone()[0]}))";

    private async Task<CriRunResult> RunAsync(ImageReference image, IReadOnlyList<string> command)
    {
        var run = await fixture.Cri.RunToExitAsync(image.ToString(), command, fixture.NewDirectory("logs"), RunTimeout);
        Assert.True(run.ExitCode == 0, $"exit {run.ExitCode} ({run.Status.Reason} {run.Status.Message}): {run.Output}\n{fixture.Snapshotter.Error}");
        return run;
    }

    private async Task AssertPullFetchesNoLayerAsync(ImageReference image)
    {
        var layers = await fixture.LayersAsync(image);
        var before = layers.Select(l => fixture.BlobGets(l.Digest).Count).ToList();

        try
        {
            await fixture.Cri.PullImageAsync(image.ToString());
        }
        catch (Grpc.Core.RpcException ex)
        {
            Assert.Fail($"{ex.Status.Detail}\n--- accel snapshotter:\n{fixture.Snapshotter.Error}\n{fixture.Snapshotter.Output}");
        }

        Assert.Equal(before, layers.Select(l => fixture.BlobGets(l.Digest).Count).ToList());
    }

    [Fact]
    public async Task PullImage_LazyVariant_NoLayerFetchedAndTwoPodsAtOnceReadEachByteOnce()
    {
        await AssertPullFetchesNoLayerAsync(fixture.Lazy);
        var variant = await fixture.LayersAsync(LazyConverter.DefaultTarget(fixture.Lazy));
        long fetchedBefore = variant.Sum(l => fixture.BlobGets(l.Digest).Bytes);

        // Two pods of the image at once: one mount, one chunk cache.
        var runs = await Task.WhenAll(
            RunAsync(fixture.Lazy, ["python3", "-c", PythonCheck]),
            RunAsync(fixture.Lazy, ["python3", "-c", PythonCheck]));

        Assert.All(runs, run => Assert.Contains("{\"sqlite\": 42}", run.Output, StringComparison.Ordinal));
        long fetched = variant.Sum(l => fixture.BlobGets(l.Digest).Bytes) - fetchedBefore;
        Assert.InRange(fetched, 1, variant.Sum(l => l.Size));
        var status = await fixture.StatusAsync(fixture.Lazy);
        Assert.Equal("lazy", status.Strategy);
        Assert.True(status.Mounted);

        // A third pod reads the same bytes: every chunk is in the daemon's one chunk cache, nothing is fetched again.
        long fetchedByTwo = variant.Sum(l => fixture.BlobGets(l.Digest).Bytes);
        var third = await RunAsync(fixture.Lazy, ["python3", "-c", PythonCheck]);
        Assert.Contains("{\"sqlite\": 42}", third.Output, StringComparison.Ordinal);
        Assert.Equal(fetchedByTwo, variant.Sum(l => fixture.BlobGets(l.Digest).Bytes));
    }

    [Fact]
    public async Task PullImage_BlockVariantOnly_NoLayerFetchedAndProgramRuns()
    {
        await AssertPullFetchesNoLayerAsync(fixture.Block);

        var run = await RunAsync(fixture.Block, fixture.Minbase.Command);

        Assert.All(fixture.Minbase.ExpectedOutput, expected => Assert.Contains(expected, run.Output, StringComparison.Ordinal));
        Assert.Equal("block", (await fixture.StatusAsync(fixture.Block)).Strategy);
    }

    [Fact]
    public async Task PullImage_PreWarmedCache_NoLayerFetchedAndProgramRuns()
    {
        await AssertPullFetchesNoLayerAsync(fixture.Warm);

        var run = await RunAsync(fixture.Warm, fixture.Dotnet.Command);

        Assert.All(fixture.Dotnet.ExpectedOutput, expected => Assert.Contains(expected, run.Output, StringComparison.Ordinal));
        Assert.Equal("cache", (await fixture.StatusAsync(fixture.Warm)).Strategy);
    }

    [Fact]
    public async Task PullImage_Unconverted_FallsBackRunsAndShowsWhy()
    {
        var sandbox = ImageReference.Parse(fixture.SandboxImageReference);
        await fixture.Cri.PullImageAsync(sandbox.ToString());

        var run = await RunAsync(sandbox, ["sh", "-c", "echo unconverted-ok"]);

        Assert.Contains("unconverted-ok", run.Output, StringComparison.Ordinal);
        var status = await fixture.StatusAsync(sandbox);
        Assert.Equal(RemoteLayerProvider.Ordinary, status.Strategy);
        Assert.False(string.IsNullOrEmpty(status.Reason));
    }

    [Theory]
    [InlineData(RegistryAuthMode.Basic)]
    [InlineData(RegistryAuthMode.Token)]
    public async Task PullImage_PrivateLazyImage_CredentialsOnlyFromThePullServeLazyReads(RegistryAuthMode mode)
    {
        var reference = fixture.PrivateReference(mode);
        var auth = new AuthConfig { Username = PrivateRegistries.Username, Password = fixture.Private.Password };

        await fixture.Cri.PullImageAsync(reference.ToString(), auth);
        // The container's files are read lazily from the private registry after the pull, with the pull's credential.
        var run = await RunAsync(reference, ["sh", "-c", "cat /etc/accel-marker"]);

        Assert.Contains($"private {mode}", run.Output, StringComparison.Ordinal);
        Assert.Equal("lazy", (await fixture.StatusAsync(reference)).Strategy);
        foreach (string secret in fixture.Private.Secrets)
        {
            Assert.DoesNotContain(secret, fixture.Snapshotter.Output + fixture.Snapshotter.Error, StringComparison.Ordinal);
        }
    }
}

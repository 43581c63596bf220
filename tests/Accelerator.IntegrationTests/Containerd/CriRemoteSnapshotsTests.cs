using System.Formats.Tar;
using System.IO.Compression;
using System.Text.Json;
using Accelerator.Block.Conversion;
using Accelerator.Containerd.Api.Cri;
using Accelerator.Lazy.Conversion;
using Accelerator.Linux;
using Accelerator.Oci.Copying;
using Accelerator.Oci.Layout;
using Accelerator.Oci.Model;
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
/// the daemon started, the busybox sandbox image with no variant, a busybox image of its own with a lazy variant in
/// each private registry (basic and token auth), and the layered image with no variant but a seekable index
/// (<c>accel index</c>) beside it.
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

    public DebianImage Layered { get; private set; } = null!;

    /// <summary>
    /// The layered image under a marker layer of its own (so it shares no chain ID with the minbase image, whose layer is
    /// its base), not converted, indexed by <c>accel index</c>.
    /// </summary>
    public ImageReference Indexed { get; private set; } = null!;

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

        Layered = await DebianImageCorpus.GetAsync(DebianImageCorpus.Layered);
        Indexed = await PushUnderMarkerLayerAsync(Layered, "seekable/layered", "seekable");
        var (indexExit, indexOutput, indexError) = await AccelProcess.RunAsync("index", Indexed.ToString(), "--plain-http");
        Assert.True(indexExit == 0, $"accel index: {indexError}\n{indexOutput}");

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

    /// <summary>
    /// Pushes <paramref name="image"/> to <paramref name="repository"/> with one more layer under its others: a small
    /// gzip layer holding <c>/accel-marker</c> (<paramref name="marker"/>). Every chain ID then differs from the image's
    /// own, so a snapshot containerd already has from another image of the corpus is never reused for it.
    /// </summary>
    private async Task<ImageReference> PushUnderMarkerLayerAsync(DebianImage image, string repository, string marker)
    {
        await image.PushAsync(Registry.Host, repository);
        var reference = ImageReference.Parse($"{Registry.Host}/{repository}:{image.Tag}");
        var store = Client.GetStore(reference.Registry);
        var manifest = (await store.GetManifestAsync(reference)).Manifest!;
        var config = OciJson.Deserialize<ImageConfig>(
            await store.Blobs.ReadAllBytesAsync(BlobAddress.For(reference.Repository, manifest.Config), 1 << 20), "config");

        using var tar = new MemoryStream();
        using (var writer = new TarWriter(tar, TarEntryFormat.Pax, leaveOpen: true))
        {
            byte[] content = System.Text.Encoding.UTF8.GetBytes(marker + "\n");
            var entry = new PaxTarEntry(TarEntryType.RegularFile, "accel-marker")
            {
                Mode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead,
                ModificationTime = DateTimeOffset.FromUnixTimeSeconds(1_700_000_000),
                DataStream = new MemoryStream(content),
            };
            writer.WriteEntry(entry);
        }

        using var gzip = new MemoryStream();
        using (var compressor = new GZipStream(gzip, CompressionLevel.Optimal, leaveOpen: true))
        {
            compressor.Write(tar.GetBuffer(), 0, (int)tar.Length);
        }

        var layer = Descriptor.FromContent(MediaTypes.OciLayerGzip, gzip.ToArray());
        await store.PushBlobAsync(reference, layer, new MemoryStream(gzip.ToArray()));
        var markerConfig = config with
        {
            Rootfs = config.Rootfs! with { DiffIds = [Digest.Compute(tar.ToArray()), .. config.Rootfs.DiffIds] },
            History = config.History is null ? null : [new HistoryEntry { CreatedBy = "COPY accel-marker /" }, .. config.History],
        };
        byte[] configBytes = OciJson.Serialize(markerConfig);
        var configDescriptor = Descriptor.FromContent(manifest.Config.MediaType, configBytes);
        await store.PushBlobAsync(reference, configDescriptor, new MemoryStream(configBytes));
        await store.PushManifestAsync(reference, ManifestDocument.From(manifest with { Config = configDescriptor, Layers = [layer, .. manifest.Layers] }), reference.Tag);
        return reference;
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

    /// <summary>The HTTP status of each GET of <paramref name="blob"/> the registry answered, in order (206: a ranged read).</summary>
    public IReadOnlyList<int> BlobGetStatuses(Digest blob) => [.. Registry.ReadLog().Split('\n')
        .Where(l => l.Contains("response completed", StringComparison.Ordinal)
            && l.Contains("http.request.method=GET", StringComparison.Ordinal)
            && l.Contains($"/blobs/{blob}", StringComparison.Ordinal))
        .Select(l => l.IndexOf("http.response.status=", StringComparison.Ordinal) is int at and >= 0
            ? int.Parse(l.AsSpan(at + "http.response.status=".Length, 3), System.Globalization.CultureInfo.InvariantCulture)
            : 0)];

    /// <summary>What <c>accel snapshotter status --json</c> says about <paramref name="image"/>.</summary>
    public async Task<RemoteImageStatus> StatusAsync(ImageReference image)
    {
        var (exit, json, error) = await AccelProcess.RunAsync("snapshotter", "status", "--address", Socket, "--json");
        Assert.True(exit == 0, error);
        var status = JsonSerializer.Deserialize(json, RemoteSnapshotsJsonContext.Default.IReadOnlyListRemoteImageStatus)!;
        return Assert.Single(status, s => s.Image == image.ToString());
    }
}

/// <summary>Lazy (converted, and seekable: indexed), block, pre-warmed cache and unconverted images started by CRI on <c>accel snapshotter</c>; private registries with credentials from the pull only; two pods at once.</summary>
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
        Assert.Equal(MountStatistics.ConvertedSource, status.Source);
        Assert.True(status.Mounted);

        // A third pod reads the same bytes: every chunk is in the daemon's one chunk cache, nothing is fetched again.
        long fetchedByTwo = variant.Sum(l => fixture.BlobGets(l.Digest).Bytes);
        var third = await RunAsync(fixture.Lazy, ["python3", "-c", PythonCheck]);
        Assert.Contains("{\"sqlite\": 42}", third.Output, StringComparison.Ordinal);
        Assert.Equal(fetchedByTwo, variant.Sum(l => fixture.BlobGets(l.Digest).Bytes));
    }

    [Fact]
    public async Task PullImage_UnconvertedWithSeekableIndex_ServedLazilyFromTheOriginalLayers()
    {
        var layers = await fixture.LayersAsync(fixture.Indexed);
        // The layers accel index indexed (≥ 1 MiB: the base and the package layer); the small ones are fetched whole at mount.
        var indexed = layers.Where(l => l.Size >= 1 << 20).ToList();
        Assert.Equal(2, indexed.Count);
        // The same blobs were read whole before (the minbase image's block conversion, accel index): only what follows counts.
        var before = indexed.Select(l => fixture.BlobGetStatuses(l.Digest).Count).ToList();
        var bytesBefore = indexed.Select(l => fixture.BlobGets(l.Digest).Bytes).ToList();

        try
        {
            await fixture.Cri.PullImageAsync(fixture.Indexed.ToString());
        }
        catch (Grpc.Core.RpcException ex)
        {
            Assert.Fail($"{ex.Status.Detail}\n--- accel snapshotter:\n{fixture.Snapshotter.Error}\n{fixture.Snapshotter.Output}");
        }

        var run = await RunAsync(fixture.Indexed, fixture.Layered.Command);

        Assert.All(fixture.Layered.ExpectedOutput, expected => Assert.Contains(expected, run.Output, StringComparison.Ordinal));
        var status = await fixture.StatusAsync(fixture.Indexed);
        Assert.True(status is { Strategy: "lazy", Source: "seekable", Mounted: true }, $"{status}\n{fixture.Snapshotter.Error}");
        // The original layers were read in ranges (206), never downloaded whole: the program needs python3 and a few
        // modules, most of the small package layer but little of the base.
        long fetched = 0;
        for (int i = 0; i < indexed.Count; i++)
        {
            var statuses = fixture.BlobGetStatuses(indexed[i].Digest).Skip(before[i]).ToList();
            Assert.True(statuses.Count > 0 && statuses.All(s => s == 206), $"{indexed[i].Digest}: GETs answered {string.Join(", ", statuses)}");
            fetched += fixture.BlobGets(indexed[i].Digest).Bytes - bytesBefore[i];
        }

        Assert.True(fetched < indexed.Sum(l => l.Size) / 2, $"fetched {fetched} of the indexed layers' {indexed.Sum(l => l.Size)} bytes");

        Assert.True(status.BytesFetched < layers.Sum(l => l.Size) / 2, $"fetched {status.BytesFetched} of {layers.Sum(l => l.Size)} bytes");
        var (tableExit, table, tableError) = await AccelProcess.RunAsync("snapshotter", "status", "--address", fixture.Socket);
        Assert.True(tableExit == 0, tableError);
        Assert.Contains("lazy (seekable)", Assert.Single(table.Split('\n'), l => l.StartsWith(fixture.Indexed.ToString(), StringComparison.Ordinal)), StringComparison.Ordinal);
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
        // The busybox sandbox image: no variant, no index, and its one small layer alone is no reason to mount lazily.
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

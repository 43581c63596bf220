using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;
using Accelerator.Block.Conversion;
using Accelerator.Containerd.Api.Snapshots;
using Accelerator.Lazy.Conversion;
using Accelerator.Linux;
using Accelerator.Oci.Registry;
using Accelerator.Snapshotter.Hosting;
using Accelerator.Snapshotter.Remote;
using Accelerator.Testing.Images;
using Accelerator.Testing.Processes;
using Accelerator.Testing.Registry;
using Grpc.Core;
using Grpc.Net.Client;
using Xunit.Abstractions;

namespace Accelerator.IntegrationTests.Containerd;

/// <summary>
/// Issue 15: containers survive the daemon. Two runc containers, one on a lazy and one on a block remote snapshot of
/// the same Debian image (served by the real <c>accel snapshotter</c> through a private containerd), read and
/// checksum files of the image in a loop (O_DIRECT, so every read reaches the daemon; none read before the loop
/// starts) while the daemon is (a) upgraded to another build of itself (a copy of the build output, started with
/// <c>--takeover</c>), (b) stopped with SIGTERM and started again, (c) killed with SIGKILL and started again. Every
/// read must succeed with the right checksum; the longest stall around each event is reported.
/// </summary>
public sealed class ContainerTakeoverTests(ContainerTakeoverFixture fixture, ITestOutputHelper output) : IClassFixture<ContainerTakeoverFixture>
{
    // Full rounds over every file each container must complete in the steady state and after each event.
    private const int RoundsPerPhase = 2;

    [Fact]
    public async Task Containers_ReadThroughUpgradeRestartAndCrash_NoFailedReadEveryChecksumRight()
    {
        await using var lazy = await fixture.StartReaderAsync(fixture.Lazy, "lazy");
        await using var block = await fixture.StartReaderAsync(fixture.Block, "block");
        ReadLoop[] readers = [lazy, block];
        await WaitForRoundsAsync(readers, "steady state");

        var events = new List<(string Name, long At)>();
        events.Add(("upgrade (--takeover by another build)", Now()));
        await fixture.UpgradeSnapshotterAsync();
        await WaitForRoundsAsync(readers, "the upgrade");

        events.Add(("restart (SIGTERM, start)", Now()));
        await fixture.RestartSnapshotterAsync(kill: false);
        await WaitForRoundsAsync(readers, "the SIGTERM restart");

        events.Add(("crash (SIGKILL, start)", Now()));
        await fixture.RestartSnapshotterAsync(kill: true);
        await WaitForRoundsAsync(readers, "the SIGKILL restart");

        foreach (var reader in readers)
        {
            await reader.StopAsync();
        }

        foreach (var reader in readers)
        {
            var reads = reader.Reads();
            Assert.All(reads, r => Assert.True(r.Ok, $"{reader.Name}: failed read of {r.Path} at {r.At}: {r.Detail}\n{fixture.Snapshotter.Error}"));
            var expected = fixture.Checksums[reader.Image];
            Assert.All(reads, r => Assert.True(expected[r.Path] == r.Checksum, $"{reader.Name}: {r.Path} read as {r.Checksum}, expected {expected[r.Path]}"));
            output.WriteLine($"{reader.Name}: {reads.Count} reads, all ok; steady-state gap p50 {Gap(reads, 0.5):F0} ms, max {MaxGap(reads, 0, events[0].At):F0} ms");
            for (int i = 0; i < events.Count; i++)
            {
                long until = i + 1 < events.Count ? events[i + 1].At : long.MaxValue;
                output.WriteLine($"  {events[i].Name}: longest stall {StallAround(reads, events[i].At, until):F0} ms");
            }
        }
    }

    private async Task WaitForRoundsAsync(ReadLoop[] readers, string after)
    {
        var targets = readers.Select(r => r.Reads().Count + RoundsPerPhase * ContainerTakeoverFixture.FilesPerRound).ToArray();
        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(2);
        for (int i = 0; i < readers.Length; i++)
        {
            while (readers[i].Reads().Count < targets[i])
            {
                var failed = readers[i].Reads().FirstOrDefault(r => !r.Ok);
                Assert.True(failed is null, $"{readers[i].Name}: failed read of {failed?.Path} after {after}: {failed?.Detail}\n{fixture.Snapshotter.Error}");
                Assert.True(DateTime.UtcNow < deadline, $"{readers[i].Name}: no {RoundsPerPhase} rounds of reads within 2 min after {after}\n{fixture.Snapshotter.Output}\n{fixture.Snapshotter.Error}");
                await Task.Delay(100);
            }
        }
    }

    private static long Now() => DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() * 1_000_000;

    // The longest gap between two reads finishing from the event on (the first one spans the event itself) until the next event.
    private static double StallAround(IReadOnlyList<TimedRead> reads, long at, long until) => MaxGap(reads, at, until);

    private static double MaxGap(IReadOnlyList<TimedRead> reads, long from, long to)
    {
        double max = 0;
        for (int i = 1; i < reads.Count; i++)
        {
            if (reads[i].At > from && reads[i].At <= to)
            {
                max = Math.Max(max, (reads[i].At - reads[i - 1].At) / 1e6);
            }
        }

        return max;
    }

    private static double Gap(IReadOnlyList<TimedRead> reads, double quantile)
    {
        var gaps = Enumerable.Range(1, Math.Max(0, reads.Count - 1)).Select(i => (reads[i].At - reads[i - 1].At) / 1e6).Order().ToList();
        return gaps.Count == 0 ? 0 : gaps[(int)Math.Min(gaps.Count - 1, quantile * gaps.Count)];
    }
}

/// <summary>One read of the container's loop: when it finished (ns since the epoch), the file, and its checksum or why it failed.</summary>
public sealed record TimedRead(long At, bool Ok, string Path, string Checksum, string Detail);

/// <summary>A container (runc through containerd) on a remote snapshot, running the read loop; its log is a bind-mounted file.</summary>
public sealed class ReadLoop(ContainerTakeoverFixture fixture, string name, ImageReference image, string id, string rootfs, string log, string stop, string key) : IAsyncDisposable
{
    private bool _stopped;

    public string Name => name;

    public ImageReference Image => image;

    public IReadOnlyList<TimedRead> Reads()
    {
        var reads = new List<TimedRead>();
        string[] lines;
        try
        {
            using var stream = new FileStream(log, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            lines = new StreamReader(stream).ReadToEnd().Split('\n');
        }
        catch (FileNotFoundException)
        {
            return reads;
        }

        // The last line may be half written: only complete lines count.
        foreach (string line in lines.SkipLast(1))
        {
            string[] fields = line.Split(' ', 4);
            if (fields.Length >= 3 && long.TryParse(fields[0], NumberStyles.None, CultureInfo.InvariantCulture, out long at))
            {
                bool ok = fields[1] == "ok";
                reads.Add(ok
                    ? new TimedRead(at, true, fields[3], fields[2], "")
                    : new TimedRead(at, false, fields[2], "", fields.Length > 3 ? fields[3] : ""));
            }
        }

        return reads;
    }

    public async Task StopAsync()
    {
        if (_stopped)
        {
            return;
        }

        _stopped = true;
        await File.WriteAllTextAsync(stop, "");
        await fixture.Containerd.CtrAsync(["tasks", "kill", "--signal", "SIGKILL", id]).ContinueWith(_ => { });
        for (int i = 0; i < 50; i++)
        {
            try
            {
                await fixture.Containerd.CtrAsync(["tasks", "delete", id]);
                break;
            }
            catch (ExternalToolException)
            {
                await Task.Delay(100);
            }
        }

        await fixture.Containerd.CtrAsync(["containers", "delete", id]).ContinueWith(_ => { });
        FileSystemMount.Unmount(rootfs);
        await fixture.Containerd.WaitForSnapshotterAsync("accel");
        await fixture.Snapshots.RemoveAsync(new RemoveSnapshotRequest { Snapshotter = "accel", Key = key }, fixture.Headers);
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await StopAsync();
        }
        catch (Exception ex) when (ex is ExternalToolException or RpcException or IOException)
        {
        }
    }
}

/// <summary>
/// One registry with two Debian images that share no layer (a snapshot of a chain ID containerd already has is never
/// asked for again): the python and nginx image with only a lazy variant and the minbase image with only a block variant;
/// one containerd, one <c>accel snapshotter</c>, and a copy of the build output to upgrade to.
/// </summary>
public sealed class ContainerTakeoverFixture : IAsyncLifetime
{
    // Short, like /var/lib/accel: the overlay options of a container name every layer's directory.
    public string Directory { get; } = System.IO.Directory.CreateTempSubdirectory("accel-ct-").FullName;

    public string Root => Path.Combine(Directory, "root");

    public string Socket => Path.Combine(Directory, "s.sock");

    public string UpgradeBuild => Path.Combine(Directory, "build-2");

    public DockerRegistryProcess Registry { get; private set; } = null!;

    public ContainerdProcess Containerd { get; private set; } = null!;

    public AccelProcess Snapshotter { get; private set; } = null!;

    public RegistryClient Client { get; } = new(TestRegistryOptions.Create());

    public ImageReference Lazy { get; private set; } = null!;

    public ImageReference Block { get; private set; } = null!;

    /// <summary>Per image: the files the loop reads (absolute paths in the image, the largest regular files under /usr) and their sha256 from umoci's unpack.</summary>
    public Dictionary<ImageReference, IReadOnlyDictionary<string, string>> Checksums { get; } = [];

    /// <summary>How many files each loop reads per round.</summary>
    public const int FilesPerRound = 8;

    public Grpc.Net.Client.GrpcChannel Channel { get; private set; } = null!;

    public Accelerator.Containerd.Api.Snapshots.Snapshots.SnapshotsClient Snapshots { get; private set; } = null!;

    public Metadata Headers { get; private set; } = null!;

    private readonly List<AccelProcess> _old = [];

    public async Task InitializeAsync()
    {
        Registry = await DockerRegistryProcess.StartAsync();
        var python = await DebianImageCorpus.GetAsync(DebianImageCorpus.PythonNginx);
        var minbase = await DebianImageCorpus.GetAsync(DebianImageCorpus.Minbase);
        await python.PushAsync(Registry.Host, "lazy/python");
        await minbase.PushAsync(Registry.Host, "block/minbase");
        Lazy = ImageReference.Parse($"{Registry.Host}/lazy/python:{python.Tag}");
        Block = ImageReference.Parse($"{Registry.Host}/block/minbase:{minbase.Tag}");
        var store = Client.GetStore(Registry.Host);
        await LazyConverter.ConvertAsync(store, Lazy, store, LazyConverter.DefaultTarget(Lazy));
        await BlockConverter.ConvertAsync(store, Block, store, BlockConverter.DefaultTarget(Block), new BlockConvertOptions { TempDirectory = Directory });
        Checksums[Lazy] = await ChooseFilesAsync(python);
        Checksums[Block] = await ChooseFilesAsync(minbase);

        // "Another build of itself": the same program from another directory, as an upgrade installs it.
        CopyDirectory(AppContext.BaseDirectory, UpgradeBuild);

        Snapshotter = await StartSnapshotterAsync(AppContext.BaseDirectory);
        var options = new ContainerdProcessOptions();
        options.ProxySnapshotters["accel"] = Socket;
        Containerd = await ContainerdProcess.StartAsync(options);
        Headers = new Metadata { { "containerd-namespace", Containerd.Namespace } };
        Channel = GrpcUnixChannel.Create(Containerd.Address);
        Snapshots = new Accelerator.Containerd.Api.Snapshots.Snapshots.SnapshotsClient(Channel);
    }

    public async Task DisposeAsync()
    {
        Channel?.Dispose();
        if (Containerd is not null)
        {
            await Containerd.DisposeAsync();
        }

        foreach (var process in _old.Append(Snapshotter).Where(p => p is not null))
        {
            await process.DisposeAsync();
        }

        if (Registry is not null)
        {
            await Registry.DisposeAsync();
        }

        Client.Dispose();

        // The daemon's stop leaves its mounts to the holder (that is the point); the test's holder goes with the test,
        // and what it kept alive is then stale: the sweep removes it (block: ext4, loop device, FUSE, in that order).
        FuseHolderProcesses.StopUnder(Path.Combine(Root, "takeover"));
        await new Accelerator.Fuse.Takeover.StaleMountSweeper().SweepAsync(SnapshotterStaleState.ScopeFor(Root));
        foreach (string mountPoint in MountTable.MountPointsUnder(MountTable.Read(), Directory))
        {
            FileSystemMount.Unmount(mountPoint);
        }

        System.IO.Directory.Delete(Directory, recursive: true);
    }

    /// <summary>Pulls <paramref name="image"/> the way containerd's unpacker does (remote snapshots), prepares a container snapshot, and starts the read loop in it.</summary>
    public async Task<ReadLoop> StartReaderAsync(ImageReference image, string name)
    {
        var layers = await DescribeAsync(image);
        for (int depth = 0; depth < layers.ChainIds.Count; depth++)
        {
            var error = await Record.ExceptionAsync(() => Snapshots.PrepareAsync(PrepareRequest(layers, depth), Headers).ResponseAsync);
            Assert.True(error is RpcException { StatusCode: StatusCode.AlreadyExists }, $"{name} layer {depth}: {error?.Message ?? "prepared"}\n{Snapshotter.Error}");
        }

        var (exit, json, statusError) = await AccelProcess.RunAsync("snapshotter", "status", "--address", Socket, "--json");
        Assert.True(exit == 0, statusError);
        var status = JsonSerializer.Deserialize(json, RemoteSnapshotsJsonContext.Default.IReadOnlyListRemoteImageStatus)!;
        Assert.True(status.Any(s => s.Image == image.ToString() && s.Strategy == name), $"{image} is not served by {name}: {json}");

        string key = $"container-{name}-{Guid.NewGuid():N}";
        var mounts = await Snapshots.PrepareAsync(
            new PrepareSnapshotRequest { Snapshotter = "accel", Key = key, Parent = layers.ChainIds[^1], Labels = { ["containerd.io/gc.root"] = "test" } }, Headers);
        string rootfs = System.IO.Directory.CreateDirectory(Path.Combine(Directory, "rootfs-" + name)).FullName;
        var mount = Assert.Single(mounts.Mounts);
        Assert.Equal("overlay", mount.Type);
        FileSystemMount.Mount("overlay", rootfs, "overlay", MountFlags.None, string.Join(",", mount.Options));

        string output = System.IO.Directory.CreateDirectory(Path.Combine(Directory, "out-" + name)).FullName;
        string id = $"reader-{name}-{Guid.NewGuid():N}"[..24];
        // O_DIRECT: every read reaches the daemon (through the overlay and FUSE, or ext4, the loop device and FUSE),
        // never the page cache. Each line: end time (ns), ok + sha256 + path, or failed + path + why.
        string script =
            "while [ ! -e /out/stop ]; do for f in " + string.Join(' ', Checksums[image].Keys) + "; do " +
            "if e=$(dd if=$f of=/dev/shm/read iflag=direct bs=1M status=none 2>&1); then " +
            "s=$(sha256sum /dev/shm/read); echo \"$(date +%s%N) ok ${s%% *} $f\" >> /out/log; " +
            "else echo \"$(date +%s%N) failed $f $e\" >> /out/log; fi; done; done";
        await Containerd.CtrAsync(["run", "-d", "--mount", $"type=bind,src={output},dst=/out,options=rbind:rw", "--rootfs", rootfs, id, "/bin/sh", "-c", script]);
        return new ReadLoop(this, name, image, id, rootfs, Path.Combine(output, "log"), Path.Combine(output, "stop"), key);
    }

    /// <summary>(a) Another build started with <c>--takeover</c>: the running daemon hands its mounts over and exits.</summary>
    public async Task UpgradeSnapshotterAsync()
    {
        var predecessor = Snapshotter;
        Snapshotter = await StartSnapshotterAsync(UpgradeBuild, "--takeover");
        _old.Add(predecessor);
        Assert.Equal(0, await predecessor.WaitForExitAsync(TimeSpan.FromMinutes(1)));
    }

    /// <summary>(b) SIGTERM, or (c) SIGKILL, then the daemon started again on the same root.</summary>
    public async Task RestartSnapshotterAsync(bool kill)
    {
        if (kill)
        {
            await Snapshotter.KillAsync();
        }
        else
        {
            Assert.Equal(0, await Snapshotter.TerminateAsync());
        }

        _old.Add(Snapshotter);
        Snapshotter = await StartSnapshotterAsync(AppContext.BaseDirectory);
    }

    private async Task<AccelProcess> StartSnapshotterAsync(string build, params string[] extra)
    {
        var process = AccelProcess.StartBuild(build, ["snapshotter", "--address", Socket, "--root", Root, "--plain-http", .. extra]);
        await process.WaitForOutputAsync("Snapshotter listening", TimeSpan.FromMinutes(1));
        return process;
    }

    private async Task<PulledLayers> DescribeAsync(ImageReference image)
    {
        var store = Client.GetStore(image.Registry);
        var document = await store.GetManifestAsync(image);
        var config = Accelerator.Oci.Model.OciJson.Deserialize<Accelerator.Oci.Model.ImageConfig>(
            await store.Blobs.ReadAllBytesAsync(BlobAddress.For(image.Repository, document.Manifest!.Config), 1 << 20), "config");
        var chain = new List<string>();
        foreach (var diffId in config.Rootfs!.DiffIds)
        {
            chain.Add(chain.Count == 0 ? diffId.ToString() : Digest.Compute(System.Text.Encoding.UTF8.GetBytes(chain[^1] + " " + diffId)).ToString());
        }

        return new PulledLayers(image, document.Digest, [.. document.Manifest.Layers.Select(l => l.Digest)], chain);
    }

    private static PrepareSnapshotRequest PrepareRequest(PulledLayers layers, int depth) => new()
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
            ["containerd.io/gc.root"] = "test",
        },
    };

    private async Task<IReadOnlyDictionary<string, string>> ChooseFilesAsync(DebianImage image)
    {
        string rootfs = await image.UnpackWithUmociAsync(Path.Combine(Directory, "umoci-" + image.Name));
        var files = new DirectoryInfo(Path.Combine(rootfs, "usr")).EnumerateFiles("*", new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = FileAttributes.ReparsePoint })
            .Where(f => f.LinkTarget is null && f.Length is > 64 * 1024 and < 4 * 1024 * 1024 && !f.Name.Contains(' ', StringComparison.Ordinal))
            .OrderByDescending(f => f.Length).ThenBy(f => f.FullName, StringComparer.Ordinal).Take(FilesPerRound).ToList();
        var checksums = files.ToDictionary(f => "/" + Path.GetRelativePath(rootfs, f.FullName), f => Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(f.FullName))));
        System.IO.Directory.Delete(Path.GetDirectoryName(rootfs)!, recursive: true);
        return checksums;
    }

    private static void CopyDirectory(string source, string target)
    {
        foreach (string directory in System.IO.Directory.EnumerateDirectories(source, "*", SearchOption.AllDirectories))
        {
            System.IO.Directory.CreateDirectory(Path.Combine(target, Path.GetRelativePath(source, directory)));
        }

        System.IO.Directory.CreateDirectory(target);
        foreach (string file in System.IO.Directory.EnumerateFiles(source, "*", SearchOption.AllDirectories))
        {
            File.Copy(file, Path.Combine(target, Path.GetRelativePath(source, file)));
        }
    }
}

/// <summary>A gRPC channel over a unix socket (containerd's).</summary>
internal static class GrpcUnixChannel
{
    public static GrpcChannel Create(string address)
    {
        var handler = new SocketsHttpHandler
        {
            ConnectCallback = async (_, cancellationToken) =>
            {
                var socket = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.Unix, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Unspecified);
                try
                {
                    await socket.ConnectAsync(new System.Net.Sockets.UnixDomainSocketEndPoint(address), cancellationToken);
                    return new System.Net.Sockets.NetworkStream(socket, ownsSocket: true);
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

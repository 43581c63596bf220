using System.Globalization;
using Accelerator.Cli.Console;
using Accelerator.Oci;
using Accelerator.Hosting.Layout;
using Accelerator.Oci.Layout;
using Accelerator.Oci.Registry;
using Accelerator.P2P.Peers;
using Accelerator.P2P.Proxy;
using Accelerator.P2P.Scheduling;
using Accelerator.Snapshots;
using Microsoft.Extensions.DependencyInjection;

namespace Accelerator.Cli.Commands.Demo;

internal sealed partial class DemoRun
{
    private const int PeerCount = 3;

    /// <summary>Full pull: every layer from the registry, verified and unpacked.</summary>
    private async Task<DemoResult> RunFullAsync(CancellationToken cancellationToken)
    {
        await using var accelerator = NewBuilder().UseFullPull().PreferStrategies(Strategy.Full).Build();
        var before = _origin.GetStatistics();
        await using var mounted = await accelerator.MountAsync(_image, Path.Combine(_work, "rootfs-full"), cancellationToken: cancellationToken).ConfigureAwait(false);
        long read = ReadFiles(mounted.MountPoint);
        var statistics = mounted.Statistics;
        return new DemoResult("full", statistics.TimeToReady, statistics.BytesFetched, read, _origin.GetStatistics().Since(before).BytesServed,
            $"{Units.Count(statistics.ChunksFetched, "layer")} pulled, verified and unpacked");
    }

    /// <summary>Mirrors: two more registries over the same layout; blobs are spread over them, the origin only resolves the tag.</summary>
    private async Task<DemoResult> RunMirrorsAsync(CancellationToken cancellationToken)
    {
        var layout = OciImageLayout.Open(_sample.LayoutPath);
        var options = new OciLayoutRegistryServerOptions { Repository = Repository };
        await using var mirrorA = await OciLayoutRegistryServer.StartAsync(layout, options, cancellationToken: cancellationToken).ConfigureAwait(false);
        await using var mirrorB = await OciLayoutRegistryServer.StartAsync(layout, options, cancellationToken: cancellationToken).ConfigureAwait(false);
        await using var accelerator = NewBuilder()
            .AddMirror(_origin.Host, "http://" + mirrorA.Host)
            .AddMirror(_origin.Host, "http://" + mirrorB.Host)
            .UseFullPull()
            .PreferStrategies(Strategy.Full)
            .Build();
        var before = _origin.GetStatistics();
        await using var mounted = await accelerator.MountAsync(_image, Path.Combine(_work, "rootfs-mirrors"), cancellationToken: cancellationToken).ConfigureAwait(false);
        long read = ReadFiles(mounted.MountPoint);
        long origin = _origin.GetStatistics().Since(before).BytesServed;
        long a = mirrorA.GetStatistics().BytesServed;
        long b = mirrorB.GetStatistics().BytesServed;
        var statistics = mounted.Statistics;
        return new DemoResult("mirrors", statistics.TimeToReady, statistics.BytesFetched, read, origin + a + b,
            $"origin {Units.Bytes(origin)}, mirror 1 {Units.Bytes(a)}, mirror 2 {Units.Bytes(b)}");
    }

    /// <summary>
    /// P2P: a scheduler and <see cref="PeerCount"/> peers in this process, each with its registry-mirror proxy; every peer
    /// pulls the image at once through its own proxy, so the registry serves about one copy and the peers share the rest.
    /// </summary>
    private async Task<DemoResult> RunP2PAsync(CancellationToken cancellationToken)
    {
        var resources = new List<IAsyncDisposable>();
        try
        {
            // The scheduler vouches only for the registry the demo serves.
            var schedulerOptions = new P2PSchedulerServerOptions { Registry = new RegistryOptions { PlainHttp = true } };
            schedulerOptions.TrustedRegistries.Add(_origin.Host);
            var scheduler = await P2PSchedulerServer.StartAsync(schedulerOptions, cancellationToken: cancellationToken).ConfigureAwait(false);
            resources.Add(scheduler);
            var peers = new List<(P2PPeer Peer, RegistryMirrorProxy Proxy)>();
            for (int i = 0; i < PeerCount; i++)
            {
                var peerOptions = new P2PPeerOptions
                {
                    PeerId = string.Create(CultureInfo.InvariantCulture, $"demo-peer-{i}"),
                    DataDirectory = Path.Combine(_work, "p2p", string.Create(CultureInfo.InvariantCulture, $"peer-{i}")),
                    Registry = new RegistryOptions { PlainHttp = true },
                };
                peerOptions.Schedulers.Add(scheduler.Url);
                var peer = await P2PPeer.StartAsync(peerOptions, cancellationToken: cancellationToken).ConfigureAwait(false);
                resources.Add(peer);
                var proxy = await RegistryMirrorProxy.StartAsync(
                    new RegistryMirrorProxyOptions { Listen = new Uri("http://127.0.0.1:0"), Upstream = _origin.Host, PlainHttpUpstream = true },
                    (registry, credential) => peer.CreateBlobSource(registry, credential), cancellationToken: cancellationToken).ConfigureAwait(false);
                resources.Add(proxy);
                peers.Add((peer, proxy));
            }

            var before = _origin.GetStatistics();
            var mounts = await Task.WhenAll(peers.Select(async (p, i) =>
            {
                var accelerator = NewBuilder().UseFullPull().UseP2P(p.Proxy.Url).PreferStrategies(Strategy.Full).Build();
                lock (resources)
                {
                    resources.Add(accelerator);
                }

                string rootfs = Path.Combine(_work, string.Create(CultureInfo.InvariantCulture, $"rootfs-p2p-{i}"));
                var mounted = await accelerator.MountAsync(_image, rootfs, cancellationToken: cancellationToken).ConfigureAwait(false);
                lock (resources)
                {
                    resources.Add(mounted);
                }

                return mounted;
            })).ConfigureAwait(false);

            long read = ReadFiles(mounts[0].MountPoint);
            long registry = _origin.GetStatistics().Since(before).BytesServed;
            long fromPeers = peers.Sum(p => p.Peer.GetStatistics().BytesFromPeers);
            long fromOrigin = peers.Sum(p => p.Peer.GetStatistics().BytesFromOrigin);
            long image = _sample.Layers.Sum(l => l.Size);
            return new DemoResult("p2p", mounts.Max(m => m.Statistics.TimeToReady), mounts.Sum(m => m.Statistics.BytesFetched), read, registry,
                string.Create(CultureInfo.InvariantCulture,
                    $"{PeerCount} peers pulled at once: {Units.Bytes(fromPeers)} peer to peer, {Units.Bytes(fromOrigin)} back-to-source ({(double)registry / image:F2} image copies from the registry)"));
        }
        finally
        {
            for (int i = resources.Count - 1; i >= 0; i--)
            {
                await resources[i].DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    /// <summary>Lazy: the converted image (TAG-accel) mounted with FUSE; only the chunks read are fetched.</summary>
    private async Task<DemoResult> RunLazyAsync(CancellationToken cancellationToken)
    {
        if (NeedsRoot("mounting FUSE and overlayfs") is { } needsRoot)
        {
            return DemoResult.Skipped("lazy", needsRoot);
        }

        await using var accelerator = NewBuilder()
            .UseLazyMount(o =>
            {
                o.CacheDirectory = Path.Combine(_work, "lazy-cache");
                o.StateDirectory = Path.Combine(_work, "state");
            })
            .PreferStrategies(Strategy.Lazy)
            .Build();
        if (await CannotMountAsync(accelerator, Strategy.Lazy, cancellationToken).ConfigureAwait(false) is { } reason)
        {
            return DemoResult.Skipped("lazy", reason);
        }

        string rootfs = Directory.CreateDirectory(Path.Combine(_work, "rootfs-lazy")).FullName;
        var before = _origin.GetStatistics();
        await using var mounted = await accelerator.MountAsync(_image, rootfs, cancellationToken: cancellationToken).ConfigureAwait(false);
        long read = ReadFiles(mounted.MountPoint);
        var statistics = mounted.Statistics;
        return new DemoResult("lazy", statistics.TimeToReady, statistics.BytesFetched, read, _origin.GetStatistics().Since(before).BytesServed,
            $"FUSE; {Units.Count(statistics.ChunksFetched, "chunk")} fetched as the files were read");
    }

    /// <summary>Block: the converted disk image (TAG-accel-block) behind a loop device; only the blocks read are fetched.</summary>
    private async Task<DemoResult> RunBlockAsync(CancellationToken cancellationToken)
    {
        if (NeedsRoot("building the disk image and attaching a loop device") is { } needsRoot)
        {
            return DemoResult.Skipped("block", needsRoot);
        }

        if (_blockUnavailable is not null)
        {
            return DemoResult.Skipped("block", _blockUnavailable);
        }

        await using var accelerator = NewBuilder()
            .UseBlockDevice(o =>
            {
                o.CacheDirectory = Path.Combine(_work, "block-cache");
                o.StateDirectory = Path.Combine(_work, "state");
            })
            .PreferStrategies(Strategy.Block)
            .Build();
        if (await CannotMountAsync(accelerator, Strategy.Block, cancellationToken).ConfigureAwait(false) is { } reason)
        {
            return DemoResult.Skipped("block", reason);
        }

        string rootfs = Directory.CreateDirectory(Path.Combine(_work, "rootfs-block")).FullName;
        var before = _origin.GetStatistics();
        await using var mounted = await accelerator.MountAsync(_image, rootfs, cancellationToken: cancellationToken).ConfigureAwait(false);
        long read = ReadFiles(mounted.MountPoint);
        var statistics = mounted.Statistics;
        return new DemoResult("block", statistics.TimeToReady, statistics.BytesFetched, read, _origin.GetStatistics().Since(before).BytesServed,
            "ext4 on a loop device over FUSE; blocks fetched as the files were read");
    }

    /// <summary>Cache: the image warmed into a snapshot store ahead of time; the mount clones the snapshot.</summary>
    private async Task<DemoResult> RunCacheAsync(CancellationToken cancellationToken)
    {
        if (NeedsRoot("mounting a snapshot clone (overlayfs)") is { } needsRoot)
        {
            return DemoResult.Skipped("cache", needsRoot);
        }

        await using var accelerator = NewBuilder()
            .UseSnapshotCache(o =>
            {
                o.Root = Path.Combine(_work, "snapshots");
                o.Durable = false;
            })
            .PreferStrategies(Strategy.Cache)
            .Build();
        var store = accelerator.Services.GetRequiredService<SnapshotStore>();
        var stores = accelerator.Services.GetRequiredService<ImageStoreResolver>();
        var beforeWarm = _origin.GetStatistics();
        var warm = await store.WarmAsync(stores.GetStore(_image), _image, cancellationToken: cancellationToken).ConfigureAwait(false);
        long warmBytes = _origin.GetStatistics().Since(beforeWarm).BytesServed;

        var before = _origin.GetStatistics();
        string rootfs = Directory.CreateDirectory(Path.Combine(_work, "rootfs-cache")).FullName;
        await using var mounted = await accelerator.MountAsync(_image, rootfs, cancellationToken: cancellationToken).ConfigureAwait(false);
        long read = ReadFiles(mounted.MountPoint);
        var statistics = mounted.Statistics;
        return new DemoResult("cache", statistics.TimeToReady, statistics.BytesFetched, read, _origin.GetStatistics().Since(before).BytesServed,
            $"warmed ahead in {Seconds(warm.Elapsed)} ({Units.Bytes(warmBytes)} from the registry); the mount clones the snapshot");
    }

    // The mounters call mount(2) themselves (no fusermount helper), which takes CAP_SYS_ADMIN: as another user /dev/fuse
    // may open fine and the mount still fail, so the demo says so up front instead of reporting a failure.
    private static string? NeedsRoot(string what) => Environment.IsPrivilegedProcess ? null : what + " needs root";
}

using System.Globalization;
using System.Text.RegularExpressions;
using Accelerator.Lazy.Conversion;
using Accelerator.Lazy.Mounting;
using Accelerator.Oci.Registry;
using Accelerator.Testing.Images;
using Accelerator.Testing.Registry;

namespace Accelerator.P2P.Tests.Processes;

/// <summary>
/// A lazy mount built with <c>UseP2P</c> reads its chunks through a peer process's proxy with ranged reads: the peer
/// fetches only the pieces holding the chunks read.
/// </summary>
[Collection(ProcessCollection.Name)]
public sealed class LazyMountThroughPeerTests : IAsyncLifetime
{
    private const string Repository = "p2p/lazy";

    private readonly string _work = Directory.CreateTempSubdirectory("accel-p2p-lazy-").FullName;
    private readonly List<AccelDaemon> _daemons = [];
    private DockerRegistryProcess _registry = null!;

    public async Task InitializeAsync() => _registry = await DockerRegistryProcess.StartAsync();

    public async Task DisposeAsync()
    {
        await Task.WhenAll(_daemons.Select(d => d.DisposeAsync().AsTask()));
        await _registry.DisposeAsync();
        Directory.Delete(_work, recursive: true);
    }

    [Fact]
    public async Task LazyMount_WithUseP2P_ReadsChunksThroughPeerRanges()
    {
        // Random (incompressible) files, so the chunks read are a small part of a blob cut into many pieces.
        string tree = Directory.CreateDirectory(Path.Combine(_work, "tree")).FullName;
        var random = new Random(7);
        byte[] wanted = new byte[3 << 20];
        random.NextBytes(wanted);
        await File.WriteAllBytesAsync(Path.Combine(tree, "wanted.bin"), wanted);
        for (int i = 0; i < 6; i++)
        {
            byte[] other = new byte[3 << 20];
            random.NextBytes(other);
            await File.WriteAllBytesAsync(Path.Combine(tree, $"other-{i}.bin"), other);
        }

        var source = await PushImageAsync(tree);
        using var client = new RegistryClient(new RegistryOptions { PlainHttp = true, DockerConfigPath = TestRegistryOptions.NoDockerConfig });
        var store = client.GetStore(_registry.Host);
        await LazyConverter.ConvertAsync(store, source, store, LazyConverter.DefaultTarget(source));

        var scheduler = await AccelDaemon.StartSchedulerAsync("--piece-size", "1048576", "--trust-registry", _registry.Host);
        _daemons.Add(scheduler);
        var peer = await AccelDaemon.StartPeerAsync(Path.Combine(_work, "peer"), [scheduler.Url.ToString()]);
        _daemons.Add(peer);
        await using var accelerator = new ImageAcceleratorBuilder()
            .AddRegistry(_registry.Host, r => r.PlainHttp = true)
            .ConfigureRegistries(r => r.DockerConfigPath = TestRegistryOptions.NoDockerConfig)
            .UseP2P(peer.ProxyUrl!)
            .UseLazyMount(l =>
            {
                l.CacheDirectory = Path.Combine(_work, "cache");
                l.StateDirectory = Path.Combine(_work, "state");
                l.Prefetch = false;
            })
            .PreferStrategies(Strategy.Lazy)
            .Build();
        string mountPoint = Directory.CreateDirectory(Path.Combine(_work, "mnt")).FullName;

        byte[] read;
        await using (var mounted = await accelerator.MountAsync(source, mountPoint))
        {
            read = await File.ReadAllBytesAsync(Path.Combine(mountPoint, "wanted.bin"));
        }

        Assert.Equal(wanted, read);
        using var http = new HttpClient();
        string proxyMetrics = await http.GetStringAsync(new Uri(peer.ProxyUrl!, "metrics"));
        string peerMetrics = await http.GetStringAsync(new Uri(peer.Url, "metrics"));
        Assert.True(Metric(proxyMetrics, "accel_proxy_range_requests_total") >= 1, proxyMetrics);
        // The peer fetched pieces for the chunks read, not the whole ~21 MB data blob.
        long pieces = Metric(peerMetrics, "accel_p2p_peer_pieces_from_origin_total") + Metric(peerMetrics, "accel_p2p_peer_pieces_from_peers_total");
        Assert.InRange(pieces, 3, 12);
    }

    private async Task<ImageReference> PushImageAsync(string tree)
    {
        string layout = Path.Combine(_work, "layout");
        string layer = Path.Combine(_work, "layer.tar");
        await ExternalTool.RunAsync("tar", ["--format=pax", "--numeric-owner", "-C", tree, "-cf", layer, "."]);
        await ExternalTool.RunAsync("umoci", ["init", "--layout", layout]);
        await ExternalTool.RunAsync("umoci", ["new", "--image", layout + ":v1"]);
        await ExternalTool.RunAsync("umoci", ["raw", "add-layer", "--image", layout + ":v1", layer]);
        await OciLayoutTools.PushAsync(layout, "v1", _registry.Host, Repository);
        return ImageReference.Parse($"{_registry.Host}/{Repository}:v1");
    }

    private static long Metric(string text, string name)
    {
        var match = Regex.Match(text, $@"^{Regex.Escape(name)} (\d+)", RegexOptions.Multiline);
        return match.Success ? long.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture) : 0;
    }
}

using System.Globalization;
using System.Text.RegularExpressions;
using Accelerator.Testing.Images;
using Accelerator.Testing.Processes;
using Accelerator.Testing.Registry;

namespace Accelerator.P2P.Tests.Processes;

/// <summary>
/// containerd, unchanged, pulls an image through a peer's registry-mirror proxy (a plain <c>hosts.toml</c> mirror)
/// and runs it: manifests pass through the proxy, layers come through P2P.
/// </summary>
[Collection(ProcessCollection.Name)]
public sealed partial class ContainerdThroughPeerTests : IAsyncLifetime
{
    private const string Greeting = "hello through a P2P peer\n";
    private const string Repository = "p2p/busybox";

    private readonly string _work = Directory.CreateTempSubdirectory("accel-p2p-ctr-").FullName;
    private readonly List<AccelDaemon> _daemons = [];
    private DockerRegistryProcess _registry = null!;
    private ContainerdProcess _containerd = null!;

    public async Task InitializeAsync()
    {
        _registry = await DockerRegistryProcess.StartAsync();
        _containerd = await ContainerdProcess.StartAsync();
    }

    public async Task DisposeAsync()
    {
        if (_containerd is not null)
        {
            await _containerd.DisposeAsync();
        }

        await Task.WhenAll(_daemons.Select(d => d.DisposeAsync().AsTask()));
        await _registry.DisposeAsync();
        Directory.Delete(_work, recursive: true);
    }

    [Fact]
    public async Task CtrPullAndRun_ThroughPeerProxy_LayersComeThroughP2P()
    {
        string image = $"{_registry.Host}/{Repository}:v1";
        await PushBusyboxImageAsync();
        var scheduler = await AccelDaemon.StartSchedulerAsync("--trust-registry", _registry.Host);
        _daemons.Add(scheduler);
        var peer = await AccelDaemon.StartPeerAsync(Path.Combine(_work, "peer"), [scheduler.Url.ToString()]);
        _daemons.Add(peer);
        // A plain containerd mirror: the proxy is asked /v2/... with ns=REGISTRY, the registry stays the fallback.
        string hosts = Directory.CreateDirectory(Path.Combine(_work, "certs.d", _registry.Host)).FullName;
        await File.WriteAllTextAsync(Path.Combine(hosts, "hosts.toml"), $"""
            server = "http://{_registry.Host}"

            [host."{peer.ProxyUrl!.ToString().TrimEnd('/')}"]
              capabilities = ["pull", "resolve"]
            """);

        await _containerd.CtrAsync(["image", "pull", "--hosts-dir", Path.GetDirectoryName(hosts)!, image]);
        string output = await _containerd.CtrAsync(["run", "--rm", image, "p2p-" + Guid.NewGuid().ToString("N")[..8], "/bin/sh", "-c", "cat /etc/greeting"]);

        Assert.Equal(Greeting, output.ReplaceLineEndings("\n"));
        using var http = new HttpClient();
        string proxyMetrics = await http.GetStringAsync(new Uri(peer.ProxyUrl!, "metrics"));
        string peerMetrics = await http.GetStringAsync(new Uri(peer.Url, "metrics"));
        long busybox = new FileInfo("/bin/busybox").Length;
        Assert.True(Metric(proxyMetrics, "accel_proxy_manifest_requests_total") >= 1, proxyMetrics);
        // The compressed busybox layer came through the peer: at least a third of the binary's size.
        Assert.True(Metric(proxyMetrics, "accel_proxy_served_bytes_total") > busybox / 3, proxyMetrics);
        Assert.True(Metric(peerMetrics, "accel_p2p_peer_blobs_completed_total") >= 2, peerMetrics);
    }

    private async Task PushBusyboxImageAsync()
    {
        string tree = ContainerdProcess.WriteBusyboxRootfs(Directory.CreateDirectory(Path.Combine(_work, "tree")).FullName);
        await File.WriteAllTextAsync(Path.Combine(tree, "etc", "greeting"), Greeting);
        string layout = Path.Combine(_work, "layout");
        string layer = Path.Combine(_work, "layer.tar");
        await ExternalTool.RunAsync("tar", ["--format=pax", "--numeric-owner", "-C", tree, "-cf", layer, "."]);
        await ExternalTool.RunAsync("umoci", ["init", "--layout", layout]);
        await ExternalTool.RunAsync("umoci", ["new", "--image", layout + ":v1"]);
        await ExternalTool.RunAsync("umoci", ["raw", "add-layer", "--image", layout + ":v1", layer]);
        await OciLayoutTools.PushAsync(layout, "v1", _registry.Host, Repository);
    }

    private static long Metric(string text, string name)
    {
        var match = Regex.Match(text, $@"^{Regex.Escape(name)} (\d+)", RegexOptions.Multiline);
        return match.Success ? long.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture) : 0;
    }
}

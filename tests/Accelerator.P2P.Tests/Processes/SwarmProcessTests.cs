using System.Globalization;
using System.Security.Cryptography;
using System.Text.RegularExpressions;
using Accelerator.Oci.Registry;
using Accelerator.Testing.Registry;

namespace Accelerator.P2P.Tests.Processes;

/// <summary>
/// One scheduler and ten peers, each its own <c>accel</c> process on loopback, in front of a real docker-registry:
/// every peer's registry-mirror proxy is asked for the same blob at once.
/// </summary>
[Collection(ProcessCollection.Name)]
public sealed partial class SwarmProcessTests : IAsyncLifetime
{
    private const string Repository = "swarm/blob";
    private const int Peers = 10;

    private readonly string _work = Directory.CreateTempSubdirectory("accel-p2p-swarm-").FullName;
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromMinutes(3) };
    private readonly List<AccelDaemon> _daemons = [];
    private DockerRegistryProcess _registry = null!;

    public async Task InitializeAsync() => _registry = await DockerRegistryProcess.StartAsync();

    public async Task DisposeAsync()
    {
        await Task.WhenAll(_daemons.Select(d => d.DisposeAsync().AsTask()));
        await _registry.DisposeAsync();
        _http.Dispose();
        Directory.Delete(_work, recursive: true);
    }

    private async Task<(Digest Digest, long Size)> PushBlobAsync(int megabytes)
    {
        byte[] blob = new byte[megabytes << 20];
        new Random(megabytes).NextBytes(blob);
        var descriptor = Descriptor.FromContent("application/octet-stream", blob);
        using var client = new RegistryClient(new RegistryOptions { PlainHttp = true, DockerConfigPath = TestRegistryOptions.NoDockerConfig });
        await client.PushBlobAsync(_registry.Host, Repository, descriptor, new MemoryStream(blob));
        return (descriptor.Digest, blob.Length);
    }

    private async Task<List<AccelDaemon>> StartSwarmAsync(params string[] peerOptions)
    {
        var scheduler = await AccelDaemon.StartSchedulerAsync("--piece-size", "1048576", "--trust-registry", _registry.Host);
        _daemons.Add(scheduler);
        var starting = Enumerable.Range(0, Peers).Select(i => AccelDaemon.StartPeerAsync(
            Path.Combine(_work, $"peer-{i}"), [scheduler.Url.ToString()], ["--peer-id", $"peer-{i}", "--label", $"host=host-{i}", "--upload-slots", "64", .. peerOptions])).ToList();
        var peers = new List<AccelDaemon>();
        foreach (var peer in starting)
        {
            peers.Add(await peer);
        }

        _daemons.AddRange(peers);
        return peers;
    }

    /// <summary>Reads the blob through a peer's proxy the way containerd does, hashing it; returns the digest and size.</summary>
    private async Task<(Digest Digest, long Size)> PullThroughAsync(AccelDaemon peer, Digest digest)
    {
        using var response = await _http.GetAsync(new Uri(peer.ProxyUrl!, $"v2/{Repository}/blobs/{digest}?ns={_registry.Host}"), HttpCompletionOption.ResponseHeadersRead);
        Assert.True(response.IsSuccessStatusCode, $"{(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
        await using var body = await response.Content.ReadAsStreamAsync();
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        byte[] buffer = new byte[256 * 1024];
        long size = 0;
        int n;
        while ((n = await body.ReadAsync(buffer)) > 0)
        {
            hash.AppendData(buffer, 0, n);
            size += n;
        }

        return (Digest.Parse("sha256:" + Convert.ToHexStringLower(hash.GetHashAndReset())), size);
    }

    private async Task<long> MetricAsync(AccelDaemon daemon, string name)
    {
        string text = await _http.GetStringAsync(new Uri(daemon.Url, "metrics"));
        var match = Regex.Match(text, $@"^{Regex.Escape(name)} (\d+)", RegexOptions.Multiline);
        return match.Success ? long.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture) : 0;
    }

    [Fact]
    public async Task TenPeerProcesses_PullOneBlobAtOnce_RegistryServesItAboutOnce()
    {
        var (digest, size) = await PushBlobAsync(32);
        var peers = await StartSwarmAsync();

        var pulls = await Task.WhenAll(peers.Select(p => PullThroughAsync(p, digest)));

        Assert.All(pulls, pull => Assert.Equal((digest, size), pull));
        long registryBytes = RegistryAccessLog.BlobBytesServed(_registry.ReadLog(), digest);
        long fromPeers = 0;
        var report = new System.Text.StringBuilder();
        foreach (var peer in peers)
        {
            fromPeers += await MetricAsync(peer, "accel_p2p_peer_bytes_from_peers_total");
            report.Append(CultureInfo.InvariantCulture, $"[{await MetricAsync(peer, "accel_p2p_peer_pieces_from_origin_total")} from origin, {await MetricAsync(peer, "accel_p2p_peer_origin_fallbacks_total")} fallbacks, {await MetricAsync(peer, "accel_p2p_peer_pieces_from_peers_total")} from peers] ");
        }

        // Each piece goes back to the registry through exactly one peer; the other nine copies travel between peers.
        Assert.True(registryBytes >= size && registryBytes <= size * 11 / 10, $"registry served {registryBytes} bytes of a {size}-byte blob: {report} scheduler: {Tail(_daemons[0].Error)} peer 0: {Tail(peers[0].Error)}");
        Assert.True(fromPeers >= size * (Peers - 2), $"only {fromPeers} bytes travelled between peers");
    }

    [Fact]
    public async Task TenPeerProcesses_ThreeKilledMidTransfer_RestFinishWithRightDigest()
    {
        var (digest, size) = await PushBlobAsync(16);
        // Capped uploads keep the transfer going long enough to kill peers in the middle of it.
        var peers = await StartSwarmAsync("--upload-limit", "3M");

        var pulls = peers.Select(p => PullThroughAsync(p, digest)).ToList();
        await WaitUntilAsync(async () => (await Task.WhenAll(peers.Select(p => MetricAsync(p, "accel_p2p_peer_pieces_uploaded_total")))).Sum() >= 8, TimeSpan.FromSeconds(60), "pieces travelling between peers");
        // The victims are three peers whose clients are still reading (a fast peer may already have served its client).
        var victims = Enumerable.Range(0, Peers).Where(i => !pulls[i].IsCompleted).Take(3).ToList();
        Assert.Equal(3, victims.Count);
        foreach (int victim in victims)
        {
            await peers[victim].KillAsync();
        }

        var survivors = await Task.WhenAll(pulls.Where((_, i) => !victims.Contains(i)));

        Assert.All(survivors, pull => Assert.Equal((digest, size), pull));
        foreach (int victim in victims)
        {
            // A killed peer's client fails, or had already received the whole verified blob: never a wrong one.
            try
            {
                Assert.Equal((digest, size), await pulls[victim]);
            }
            catch (Exception ex) when (ex is HttpRequestException or IOException or TaskCanceledException or Xunit.Sdk.TrueException)
            {
            }
        }
    }

    private static string Tail(string text) => text.Length <= 4000 ? text : text[^4000..];

    private static async Task WaitUntilAsync(Func<Task<bool>> condition, TimeSpan timeout, string what)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"{what}: not within {timeout.TotalSeconds:0} s");
            await Task.Delay(50);
        }
    }
}

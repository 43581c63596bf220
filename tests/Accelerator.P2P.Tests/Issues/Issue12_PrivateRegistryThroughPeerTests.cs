using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Accelerator.P2P.Tests.Processes;
using Accelerator.Testing.Images;
using Accelerator.Testing.Processes;
using Accelerator.Testing.Registry;

namespace Accelerator.P2P.Tests.Issues;

/// <summary>
/// Issue 12, A2: a private registry (htpasswd basic auth, or token auth) behind <c>accel p2p peer --proxy</c>. The client's
/// own credential is what the scheduler checks and what back-to-source reads carry; a refusal is a 401 with the registry's
/// challenge, never a 500. Clients: a curl-like HTTP client, and containerd itself (<c>ctr image pull --user</c>).
/// </summary>
[Collection(ProcessCollection.Name)]
public sealed partial class Issue12_PrivateRegistryThroughPeerTests : IAsyncLifetime
{
    private const string User = "reader";
    private const string Password = "private-pass";
    private const string Repository = "private/busybox";
    private const string Greeting = "hello from a private registry through a peer\n";

    private readonly string _work = Directory.CreateTempSubdirectory("accel-p2p-private-").FullName;
    private readonly List<IAsyncDisposable> _resources = [];
    private readonly HttpClient _http = new();

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        _http.Dispose();
        foreach (var resource in Enumerable.Reverse(_resources))
        {
            await resource.DisposeAsync();
        }

        Directory.Delete(_work, recursive: true);
    }

    private async Task<DockerRegistryProcess> StartBasicRegistryAsync()
    {
        var registry = await DockerRegistryProcess.StartAsync(new DockerRegistryOptions { HtpasswdUsers = new Dictionary<string, string> { [User] = Password } });
        _resources.Add(registry);
        return registry;
    }

    private async Task<(DockerRegistryProcess Registry, RegistryTokenServer Tokens)> StartTokenRegistryAsync()
    {
        var tokens = await RegistryTokenServer.StartAsync(User, Password);
        tokens.AllowAnonymousPull = false;
        _resources.Add(tokens);
        var registry = await DockerRegistryProcess.StartAsync(new DockerRegistryOptions { TokenAuth = tokens.RegistryAuth });
        _resources.Add(registry);
        return (registry, tokens);
    }

    /// <summary>A scheduler trusting <paramref name="registry"/> and a peer with its proxy, as separate <c>accel</c> processes.</summary>
    private async Task<AccelDaemon> StartPeerAsync(string registry)
    {
        var scheduler = await AccelDaemon.StartSchedulerAsync("--trust-registry", registry);
        _resources.Add(scheduler);
        var peer = await AccelDaemon.StartPeerAsync(Path.Combine(_work, "peer"), [scheduler.Url.ToString()], "--upstream", registry);
        _resources.Add(peer);
        return peer;
    }

    /// <summary>Pushes a busybox image with <c>skopeo --dest-creds</c>; returns the layer's digest.</summary>
    private async Task<string> PushBusyboxAsync(string registry)
    {
        string tree = ContainerdProcess.WriteBusyboxRootfs(Directory.CreateDirectory(Path.Combine(_work, "tree")).FullName);
        await File.WriteAllTextAsync(Path.Combine(tree, "etc", "greeting"), Greeting);
        string layout = Path.Combine(_work, "layout");
        string layer = Path.Combine(_work, "layer.tar");
        await ExternalTool.RunAsync("tar", ["--format=pax", "--numeric-owner", "-C", tree, "-cf", layer, "."]);
        await ExternalTool.RunAsync("umoci", ["init", "--layout", layout]);
        await ExternalTool.RunAsync("umoci", ["new", "--image", layout + ":v1"]);
        await ExternalTool.RunAsync("umoci", ["raw", "add-layer", "--image", layout + ":v1", layer]);
        await ExternalTool.RunAsync("skopeo", ["copy", "--quiet", "--dest-tls-verify=false", "--dest-creds", $"{User}:{Password}", $"oci:{layout}:v1", $"docker://{registry}/{Repository}:v1"]);
        using var index = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(layout, "index.json")));
        string manifest = index.RootElement.GetProperty("manifests")[0].GetProperty("digest").GetString()!;
        using var document = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(layout, "blobs", "sha256", manifest["sha256:".Length..])));
        return document.RootElement.GetProperty("layers")[0].GetProperty("digest").GetString()!;
    }

    private async Task<HttpResponseMessage> GetBlobAsync(AccelDaemon peer, string registry, string digest, AuthenticationHeaderValue? authorization)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(peer.ProxyUrl!, $"v2/{Repository}/blobs/{digest}?ns={registry}"));
        request.Headers.Authorization = authorization;
        return await _http.SendAsync(request);
    }

    private static AuthenticationHeaderValue Basic(string user, string password)
        => new("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{user}:{password}")));

    private static async Task<string> DigestOfAsync(HttpResponseMessage response)
        => "sha256:" + Convert.ToHexStringLower(SHA256.HashData(await response.Content.ReadAsByteArrayAsync()));

    [Fact]
    public async Task ProxyBlob_HtpasswdRegistryAndClientCredential_ServedThroughP2POtherwise401WithChallenge()
    {
        var registry = await StartBasicRegistryAsync();
        string layer = await PushBusyboxAsync(registry.Host);
        var peer = await StartPeerAsync(registry.Host);

        using var anonymous = await GetBlobAsync(peer, registry.Host, layer, null);
        using var wrong = await GetBlobAsync(peer, registry.Host, layer, Basic(User, "wrong"));
        using var right = await GetBlobAsync(peer, registry.Host, layer, Basic(User, Password));

        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
        Assert.StartsWith("Basic", anonymous.Headers.WwwAuthenticate.Single().Scheme, StringComparison.OrdinalIgnoreCase);
        Assert.Equal(HttpStatusCode.Unauthorized, wrong.StatusCode);
        Assert.Equal(HttpStatusCode.OK, right.StatusCode);
        Assert.Equal(layer, await DigestOfAsync(right));
        Assert.True(Metric(await _http.GetStringAsync(new Uri(peer.Url, "metrics")), "accel_p2p_peer_blobs_completed_total") >= 1);
    }

    [Fact]
    public async Task ProxyBlob_TokenRegistryAndBearerFromTheRealm_ServedThroughP2P()
    {
        var (registry, tokens) = await StartTokenRegistryAsync();
        string layer = await PushBusyboxAsync(registry.Host);
        var peer = await StartPeerAsync(registry.Host);

        // As containerd does: the proxy answers with the registry's Bearer challenge, the client asks the realm for a token
        // with its credential and sends the token.
        using var anonymous = await GetBlobAsync(peer, registry.Host, layer, null);
        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
        var challenge = anonymous.Headers.WwwAuthenticate.Single();
        Assert.Equal("Bearer", challenge.Scheme);
        Assert.Contains(tokens.Realm.ToString(), challenge.Parameter, StringComparison.Ordinal);
        using var tokenRequest = new HttpRequestMessage(HttpMethod.Get, new Uri(tokens.Realm, $"?service={Uri.EscapeDataString(tokens.Service)}&scope=repository:{Repository}:pull"));
        tokenRequest.Headers.Authorization = Basic(User, Password);
        using var tokenResponse = await _http.SendAsync(tokenRequest);
        using var token = JsonDocument.Parse(await tokenResponse.Content.ReadAsStringAsync());

        using var right = await GetBlobAsync(peer, registry.Host, layer, new AuthenticationHeaderValue("Bearer", token.RootElement.GetProperty("token").GetString()));

        Assert.Equal(HttpStatusCode.OK, right.StatusCode);
        Assert.Equal(layer, await DigestOfAsync(right));
        Assert.True(Metric(await _http.GetStringAsync(new Uri(peer.Url, "metrics")), "accel_p2p_peer_blobs_completed_total") >= 1);
    }

    [Fact]
    public async Task CtrPullWithUser_HtpasswdRegistryThroughPeer_PullsAndRuns()
    {
        var registry = await StartBasicRegistryAsync();
        await PushBusyboxAsync(registry.Host);
        var peer = await StartPeerAsync(registry.Host);

        await PullAndRunAsync(registry.Host, peer);
    }

    [Fact]
    public async Task CtrPullWithUser_TokenRegistryThroughPeer_PullsAndRuns()
    {
        var (registry, _) = await StartTokenRegistryAsync();
        await PushBusyboxAsync(registry.Host);
        var peer = await StartPeerAsync(registry.Host);

        await PullAndRunAsync(registry.Host, peer);
    }

    private async Task PullAndRunAsync(string registry, AccelDaemon peer)
    {
        var containerd = await ContainerdProcess.StartAsync();
        _resources.Add(containerd);
        string image = $"{registry}/{Repository}:v1";
        string hosts = Directory.CreateDirectory(Path.Combine(_work, "certs.d", registry)).FullName;
        await File.WriteAllTextAsync(Path.Combine(hosts, "hosts.toml"), $"""
            server = "http://{registry}"

            [host."{peer.ProxyUrl!.ToString().TrimEnd('/')}"]
              capabilities = ["pull", "resolve"]
            """);

        await containerd.CtrAsync(["image", "pull", "--hosts-dir", Path.GetDirectoryName(hosts)!, "--user", $"{User}:{Password}", image]);
        string output = await containerd.CtrAsync(["run", "--rm", image, "p2p-private-" + Guid.NewGuid().ToString("N")[..8], "/bin/sh", "-c", "cat /etc/greeting"]);

        Assert.Equal(Greeting, output.ReplaceLineEndings("\n"));
        string proxyMetrics = await _http.GetStringAsync(new Uri(peer.ProxyUrl!, "metrics"));
        string peerMetrics = await _http.GetStringAsync(new Uri(peer.Url, "metrics"));
        // The layers came through the peer (P2P), not around it.
        Assert.True(Metric(proxyMetrics, "accel_proxy_served_bytes_total") > new FileInfo("/bin/busybox").Length / 3, proxyMetrics);
        Assert.True(Metric(peerMetrics, "accel_p2p_peer_blobs_completed_total") >= 2, peerMetrics);
    }

    private static long Metric(string text, string name)
    {
        var match = Regex.Match(text, $@"^{Regex.Escape(name)} (\d+)", RegexOptions.Multiline);
        return match.Success ? long.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture) : 0;
    }
}

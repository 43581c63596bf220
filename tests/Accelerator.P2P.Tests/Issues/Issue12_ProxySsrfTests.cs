using System.Net;
using System.Text;
using System.Text.Json;
using Accelerator.Oci.Registry;
using Accelerator.P2P.Proxy;
using Accelerator.P2P.Tests.Infrastructure;
using Accelerator.P2P.Tests.Proxy;
using Accelerator.Testing.Registry;
using Microsoft.AspNetCore.Http;

namespace Accelerator.P2P.Tests.Issues;

/// <summary>
/// Issue 12, B8: the registry-mirror proxy followed an upstream's redirects and handed back what it found (a readable
/// SSRF), passed upstream error bodies on, served any <c>ns</c> on any listener, and the peer followed a parent's
/// redirects.
/// </summary>
public sealed class Issue12_ProxySsrfTests : IAsyncLifetime
{
    private static readonly byte[] Secret = Encoding.UTF8.GetBytes("{\"internal\":\"secret of a service on this host\"}");
    private readonly RegistryClient _client = new(ProxyRegistryFixture.Options(o => o.MaxRetries = 0));
    private readonly HttpClient _http = new();
    private LoopbackHttpServer _internal = null!;
    private int _internalHits;

    public async Task InitializeAsync()
    {
        // A service only this host should reach (a metadata endpoint, an admin API), on another loopback address.
        _internal = await LoopbackHttpServer.StartAsync(async context =>
        {
            Interlocked.Increment(ref _internalHits);
            context.Response.ContentType = "application/vnd.oci.image.manifest.v1+json";
            context.Response.ContentLength = Secret.Length;
            await context.Response.Body.WriteAsync(Secret);
        }, "127.0.0.2");
    }

    public async Task DisposeAsync()
    {
        await _internal.DisposeAsync();
        _http.Dispose();
        _client.Dispose();
    }

    /// <summary>An allowed upstream that turns hostile: every request is answered with a redirect to the internal service.</summary>
    private Task<LoopbackHttpServer> RedirectingUpstreamAsync()
        => LoopbackHttpServer.StartAsync(context =>
        {
            context.Response.StatusCode = StatusCodes.Status307TemporaryRedirect;
            context.Response.Headers.Location = new Uri(_internal.Url, "latest/meta-data").AbsoluteUri;
            return Task.CompletedTask;
        });

    private Task<RegistryMirrorProxy> StartProxyAsync(string upstream)
    {
        var options = new RegistryMirrorProxyOptions { Listen = new Uri("http://127.0.0.1:0"), PlainHttpUpstream = true };
        options.AllowedUpstreams.Add(upstream);
        return RegistryMirrorProxy.StartAsync(options, registry => _client.GetStore(registry).Blobs);
    }

    [Fact]
    public async Task GetManifest_UpstreamRedirectsToInternalService_NotFollowedAndNothingPassedOn()
    {
        await using var upstream = await RedirectingUpstreamAsync();
        await using var proxy = await StartProxyAsync(upstream.Host);

        using var response = await _http.GetAsync(new Uri(proxy.Url, $"v2/team/app/manifests/latest?ns={upstream.Host}"));
        string body = await response.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
        Assert.Equal("UNAVAILABLE", ErrorCode(body));
        Assert.DoesNotContain("secret", body, StringComparison.Ordinal);
        Assert.Equal(0, Volatile.Read(ref _internalHits));
    }

    [Fact]
    public async Task GetBlob_UpstreamRedirectsToInternalService_InternalBodyNeverReachesClient()
    {
        await using var upstream = await RedirectingUpstreamAsync();
        await using var proxy = await StartProxyAsync(upstream.Host);
        // Even a digest that matches the internal body (an attacker who knows it) must not get it read.
        var digest = Digest.Compute(Secret);

        using var response = await _http.GetAsync(new Uri(proxy.Url, $"v2/team/app/blobs/{digest}?ns={upstream.Host}"));
        string body = await response.Content.ReadAsStringAsync();

        Assert.False(response.IsSuccessStatusCode, $"answered {(int)response.StatusCode}");
        Assert.DoesNotContain("secret", body, StringComparison.Ordinal);
        Assert.Equal(0, Volatile.Read(ref _internalHits));
    }

    [Fact]
    public async Task GetManifest_UpstreamErrorWithBody_OwnErrorWithoutUpstreamText()
    {
        await using var upstream = await LoopbackHttpServer.StartAsync(async context =>
        {
            context.Response.StatusCode = StatusCodes.Status404NotFound;
            await context.Response.Body.WriteAsync(Secret);
        });
        await using var proxy = await StartProxyAsync(upstream.Host);

        using var response = await _http.GetAsync(new Uri(proxy.Url, $"v2/team/app/manifests/latest?ns={upstream.Host}"));
        string body = await response.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal("MANIFEST_UNKNOWN", ErrorCode(body));
        Assert.DoesNotContain("secret", body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task GetManifest_NsOutsideAllowedUpstreams_403WithRegistryError()
    {
        await using var proxy = await StartProxyAsync("registry.example.com");

        using var response = await _http.GetAsync(new Uri(proxy.Url, $"v2/team/app/manifests/latest?ns={_internal.Host}"));

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.Equal("DENIED", ErrorCode(await response.Content.ReadAsStringAsync()));
        Assert.Equal(0, Volatile.Read(ref _internalHits));
    }

    [Theory]
    [InlineData("http://0.0.0.0:0")]
    [InlineData("http://[::]:0")]
    public async Task StartAsync_BeyondLoopbackWithoutAllowedUpstreams_Refused(string listen)
    {
        var options = new RegistryMirrorProxyOptions { Listen = new Uri(listen), Upstream = "registry.example.com" };

        var error = await Assert.ThrowsAsync<ArgumentException>(() => RegistryMirrorProxy.StartAsync(options, registry => _client.GetStore(registry).Blobs));

        Assert.Contains("--allow-upstream", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task OpenReadAsync_ParentRedirectsToInternalService_NotFollowedAndBlobFromHonestPeer()
    {
        await using var registry = await CountingRegistry.StartAsync();
        await using var cluster = new P2PCluster([registry.Host]);
        byte[] content = P2PCluster.MakeContent(1024 * 1024, 12);
        var blob = registry.Put("issue12/redirect", content);
        var scheduler = await cluster.StartSchedulerAsync();
        var honest = await cluster.StartPeerAsync("honest", configure: o => o.UploadSlots = 1);
        Assert.Equal(blob.Digest, await P2PCluster.PullAsync(honest, registry.Host, blob));
        await using var redirecting = await LyingPeer.StartRedirectingAsync(scheduler.Url, registry.Host, blob, _internal.Url);
        var child = await cluster.StartPeerAsync("child");

        Assert.Equal(blob.Digest, await P2PCluster.PullAsync(child, registry.Host, blob));

        Assert.True(redirecting.PiecesServed > 0, "the redirecting parent was never asked");
        Assert.Equal(0, Volatile.Read(ref _internalHits));
    }

    private static string ErrorCode(string body)
    {
        using var json = JsonDocument.Parse(body);
        return json.RootElement.GetProperty("errors")[0].GetProperty("code").GetString()!;
    }
}

using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Accelerator.Oci.Model;
using Accelerator.Oci.Registry;
using Accelerator.P2P.Proxy;
using Accelerator.Testing;

namespace Accelerator.P2P.Tests.Proxy;

/// <summary>The registry-mirror proxy in front of a real docker-registry, with the registry itself as the blob source.</summary>
[Collection(ProxyRegistryCollection.Name)]
public sealed class RegistryMirrorProxyTests(ProxyRegistryFixture registries) : IAsyncLifetime
{
    private readonly RegistryClient _client = new(ProxyRegistryFixture.Options(o => o.Hosts["127.0.0.1"] = new RegistryHostOptions()));
    private readonly HttpClient _http = new();
    private RegistryMirrorProxy _proxy = null!;

    public async Task InitializeAsync()
    {
        _proxy = await StartProxyAsync(upstream: null);
    }

    public async Task DisposeAsync()
    {
        await _proxy.DisposeAsync();
        _http.Dispose();
        _client.Dispose();
    }

    private Task<RegistryMirrorProxy> StartProxyAsync(string? upstream, Func<string, IBlobSource>? sources = null, bool authorize = true)
        => RegistryMirrorProxy.StartAsync(
            new RegistryMirrorProxyOptions { Listen = new Uri("http://127.0.0.1:0"), Upstream = upstream, PlainHttpUpstream = true, AuthorizeBlobReads = authorize },
            sources ?? (registry => _client.GetStore(registry).Blobs));

    private Uri Ns(string path, string? registry = null) => new(_proxy.Url, $"{path}?ns={registry ?? registries.Open.Host}");

    private static async Task<(string Code, string Message)> ReadErrorAsync(HttpResponseMessage response)
    {
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        using var json = JsonDocument.Parse(await response.Content.ReadAsByteArrayAsync());
        var error = json.RootElement.GetProperty("errors")[0];
        return (error.GetProperty("code").GetString()!, error.GetProperty("message").GetString()!);
    }

    [Fact]
    public async Task Ping_NoUpstream_AnswersApiVersion()
    {
        using var response = await _http.GetAsync(new Uri(_proxy.Url, "v2/"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("registry/2.0", response.Headers.GetValues("Docker-Distribution-API-Version").Single());
    }

    [Fact]
    public async Task GetManifest_ByTagWithNs_ReturnsUpstreamBytesAndHeaders()
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, Ns($"v2/{ProxyRegistryFixture.Repository}/manifests/{ProxyRegistryFixture.Tag}"));
        request.Headers.Accept.ParseAdd(MediaTypes.OciManifest);
        using var response = await _http.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(registries.Manifest.Bytes.ToArray(), await response.Content.ReadAsByteArrayAsync());
        Assert.Equal(registries.Manifest.Digest.ToString(), response.Headers.GetValues("Docker-Content-Digest").Single());
        Assert.Equal(MediaTypes.OciManifest, response.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task HeadManifest_ByDigest_ReturnsLengthWithoutBody()
    {
        using var request = new HttpRequestMessage(HttpMethod.Head, Ns($"v2/{ProxyRegistryFixture.Repository}/manifests/{registries.Manifest.Digest}"));
        request.Headers.Accept.ParseAdd(MediaTypes.OciManifest);
        using var response = await _http.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(registries.Manifest.Bytes.Length, response.Content.Headers.ContentLength);
    }

    [Fact]
    public async Task GetManifest_UnknownTag_PassesRegistryErrorThrough()
    {
        using var response = await _http.GetAsync(Ns($"v2/{ProxyRegistryFixture.Repository}/manifests/missing"));

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal("MANIFEST_UNKNOWN", (await ReadErrorAsync(response)).Code);
    }

    [Fact]
    public async Task GetManifest_NoNsAndNoUpstream_NameUnknown()
    {
        using var response = await _http.GetAsync(new Uri(_proxy.Url, $"v2/{ProxyRegistryFixture.Repository}/manifests/{ProxyRegistryFixture.Tag}"));

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal("NAME_UNKNOWN", (await ReadErrorAsync(response)).Code);
    }

    [Fact]
    public async Task GetManifest_MalformedNs_BadRequest()
    {
        using var response = await _http.GetAsync(Ns($"v2/{ProxyRegistryFixture.Repository}/manifests/{ProxyRegistryFixture.Tag}", "bad host/../x"));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("NAME_INVALID", (await ReadErrorAsync(response)).Code);
    }

    [Fact]
    public async Task GetManifest_NsNotAllowed_RefusedWithoutUpstreamRequest()
    {
        var options = new RegistryMirrorProxyOptions { Listen = new Uri("http://127.0.0.1:0"), PlainHttpUpstream = true };
        options.AllowedUpstreams.Add("registry.example.com");
        await using var proxy = await RegistryMirrorProxy.StartAsync(options, registry => _client.GetStore(registry).Blobs);
        using var response = await _http.GetAsync(new Uri(proxy.Url, $"v2/{ProxyRegistryFixture.Repository}/manifests/{ProxyRegistryFixture.Tag}?ns={registries.Open.Host}"));

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        var (code, message) = await ReadErrorAsync(response);
        Assert.Equal("DENIED", code);
        Assert.Contains("does not serve", message, StringComparison.Ordinal);
        Assert.Equal(0, proxy.GetStatistics().ManifestRequests);
    }

    [Fact]
    public async Task GetManifest_DefaultUpstreamWithoutNs_PassesThrough()
    {
        await using var proxy = await StartProxyAsync(registries.Open.Host);
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(proxy.Url, $"v2/{ProxyRegistryFixture.Repository}/manifests/{registries.Manifest.Digest}"));
        request.Headers.Accept.ParseAdd(MediaTypes.OciManifest);
        using var response = await _http.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(registries.Manifest.Bytes.ToArray(), await response.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task GetBlob_Whole_ReturnsVerifiedBytes()
    {
        using var response = await _http.GetAsync(Ns($"v2/{ProxyRegistryFixture.Repository}/blobs/{registries.LayerDescriptor.Digest}"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(registries.Layer, await response.Content.ReadAsByteArrayAsync());
        Assert.Equal(registries.LayerDescriptor.Digest.ToString(), response.Headers.GetValues("Docker-Content-Digest").Single());
        Assert.Equal("bytes", response.Headers.AcceptRanges.Single());
    }

    [Fact]
    public async Task HeadBlob_Known_ReturnsSize()
    {
        using var request = new HttpRequestMessage(HttpMethod.Head, Ns($"v2/{ProxyRegistryFixture.Repository}/blobs/{registries.LayerDescriptor.Digest}"));
        using var response = await _http.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(registries.Layer.Length, response.Content.Headers.ContentLength);
    }

    [Theory]
    [InlineData("bytes=1000-1999", 1000, 1000)]
    [InlineData("bytes=299000-", 299_000, 1000)]
    [InlineData("bytes=-500", 299_500, 500)]
    [InlineData("bytes=299990-400000", 299_990, 10)]
    public async Task GetBlob_SingleRange_PartialContent(string range, int offset, int length)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, Ns($"v2/{ProxyRegistryFixture.Repository}/blobs/{registries.LayerDescriptor.Digest}"));
        request.Headers.TryAddWithoutValidation("Range", range);
        using var response = await _http.SendAsync(request);

        Assert.Equal(HttpStatusCode.PartialContent, response.StatusCode);
        Assert.Equal(registries.Layer.AsSpan(offset, length).ToArray(), await response.Content.ReadAsByteArrayAsync());
        Assert.Equal(new ContentRangeHeaderValue(offset, offset + length - 1, registries.Layer.Length), response.Content.Headers.ContentRange);
    }

    [Fact]
    public async Task GetBlob_RangePastEnd_RangeNotSatisfiable()
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, Ns($"v2/{ProxyRegistryFixture.Repository}/blobs/{registries.LayerDescriptor.Digest}"));
        request.Headers.TryAddWithoutValidation("Range", "bytes=300000-");
        using var response = await _http.SendAsync(request);

        Assert.Equal(HttpStatusCode.RequestedRangeNotSatisfiable, response.StatusCode);
        Assert.Equal("bytes */300000", response.Content.Headers.ContentRange?.ToString());
        Assert.Equal("RANGE_INVALID", (await ReadErrorAsync(response)).Code);
    }

    [Fact]
    public async Task GetBlob_SeveralRanges_ServesWholeBlob()
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, Ns($"v2/{ProxyRegistryFixture.Repository}/blobs/{registries.LayerDescriptor.Digest}"));
        request.Headers.TryAddWithoutValidation("Range", "bytes=0-1,5-9");
        using var response = await _http.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(registries.Layer, await response.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task GetBlob_Unknown_BlobUnknown()
    {
        var missing = Digest.Compute(Encoding.UTF8.GetBytes("not pushed"));
        using var response = await _http.GetAsync(Ns($"v2/{ProxyRegistryFixture.Repository}/blobs/{missing}"));

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal("BLOB_UNKNOWN", (await ReadErrorAsync(response)).Code);
    }

    [Fact]
    public async Task GetBlob_ProtectedWithoutCredentials_UnauthorizedWithChallengeAndNoBytes()
    {
        var source = new InMemoryBlobSource();
        source.Add(registries.Layer);
        await using var proxy = await StartProxyAsync(registries.Protected.Host, _ => source);
        using var response = await _http.GetAsync(new Uri(proxy.Url, $"v2/{ProxyRegistryFixture.Repository}/blobs/{registries.LayerDescriptor.Digest}"));

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Contains("Basic", response.Headers.WwwAuthenticate.ToString(), StringComparison.Ordinal);
        Assert.Equal(0, source.BytesServed);
    }

    [Fact]
    public async Task GetBlob_ProtectedWithCredentials_ServedFromSource()
    {
        var source = new InMemoryBlobSource();
        source.Add(registries.Layer);
        await using var proxy = await StartProxyAsync(registries.Protected.Host, _ => source);
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(proxy.Url, $"v2/{ProxyRegistryFixture.Repository}/blobs/{registries.LayerDescriptor.Digest}"));
        request.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{ProxyRegistryFixture.User}:{ProxyRegistryFixture.Password}")));
        using var response = await _http.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(registries.Layer, await response.Content.ReadAsByteArrayAsync());
        Assert.Equal(registries.Layer.Length, source.BytesServed);
    }

    [Fact]
    public async Task GetManifest_ProtectedWithCredentials_PassesClientCredentials()
    {
        await using var proxy = await StartProxyAsync(registries.Protected.Host);
        using var anonymous = await _http.GetAsync(new Uri(proxy.Url, $"v2/{ProxyRegistryFixture.Repository}/manifests/{ProxyRegistryFixture.Tag}"));
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(proxy.Url, $"v2/{ProxyRegistryFixture.Repository}/manifests/{ProxyRegistryFixture.Tag}"));
        request.Headers.Accept.ParseAdd(MediaTypes.OciManifest);
        request.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{ProxyRegistryFixture.User}:{ProxyRegistryFixture.Password}")));
        using var response = await _http.SendAsync(request);

        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
        Assert.NotEmpty(anonymous.Headers.WwwAuthenticate);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(registries.Manifest.Bytes.ToArray(), await response.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task GetBlob_SourceServesWrongBytes_ResponseCutShort()
    {
        // A source that lies: its bytes do not hash to the digest. The proxy must never hand out a complete wrong blob.
        var lying = new InMemoryBlobSource();
        byte[] wrong = (byte[])registries.Layer.Clone();
        wrong[^1] ^= 0xFF;
        lying.AddUnverified(registries.LayerDescriptor.Digest, wrong);
        await using var proxy = await StartProxyAsync(registries.Open.Host, _ => lying);

        await Assert.ThrowsAnyAsync<HttpRequestException>(async () =>
        {
            using var response = await _http.GetAsync(new Uri(proxy.Url, $"v2/{ProxyRegistryFixture.Repository}/blobs/{registries.LayerDescriptor.Digest}"));
            await response.Content.ReadAsByteArrayAsync();
        });
        Assert.Equal(1, proxy.GetStatistics().Errors);
    }

    [Theory]
    [InlineData("PUT")]
    [InlineData("DELETE")]
    [InlineData("POST")]
    public async Task Write_AnyMethod_MethodNotAllowed(string method)
    {
        using var request = new HttpRequestMessage(new HttpMethod(method), Ns($"v2/{ProxyRegistryFixture.Repository}/manifests/{ProxyRegistryFixture.Tag}"));
        using var response = await _http.SendAsync(request);

        Assert.Equal(HttpStatusCode.MethodNotAllowed, response.StatusCode);
        Assert.Equal("UNSUPPORTED", (await ReadErrorAsync(response)).Code);
    }

    [Fact]
    public async Task SkopeoCopy_ThroughProxy_CopiesImage()
    {
        await using var proxy = await StartProxyAsync(registries.Open.Host);
        string target = Directory.CreateTempSubdirectory("accel-proxy-skopeo-").FullName;
        try
        {
            var (exit, output) = await RunAsync("skopeo", "copy", "--src-tls-verify=false", $"docker://{proxy.Url.Authority}/{ProxyRegistryFixture.Repository}:{ProxyRegistryFixture.Tag}", $"oci:{target}:copied");

            Assert.True(exit == 0, output);
            // skopeo reads every blob through the proxy (it recompresses this non-gzip layer, so the copy's digest differs).
            Assert.Contains(registries.LayerDescriptor.Digest.ToString(), output, StringComparison.Ordinal);
            Assert.True(proxy.GetStatistics().BytesServed >= registries.Layer.Length);
            Assert.True(proxy.GetStatistics().BlobRequests >= 2);
        }
        finally
        {
            Directory.Delete(target, recursive: true);
        }
    }

    private static async Task<(int Exit, string Output)> RunAsync(string file, params string[] args)
    {
        var start = new System.Diagnostics.ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        using var process = System.Diagnostics.Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(1));
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, await stdout + await stderr);
    }
}

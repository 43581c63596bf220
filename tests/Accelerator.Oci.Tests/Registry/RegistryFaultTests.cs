using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Text;
using Accelerator.Oci.Model;
using Accelerator.Oci.Registry;
using Accelerator.Testing.Registry;
using Microsoft.AspNetCore.Http;

namespace Accelerator.Oci.Tests.Registry;

/// <summary>Stand-in registries (Kestrel) that misbehave on purpose, some in front of the real registry.</summary>
[Collection(RegistryCollection.Name)]
public sealed class RegistryFaultTests(RegistryFixture fixture)
{
    private static readonly byte[] BlobBytes = Encoding.UTF8.GetBytes("the right bytes of a blob");
    private static readonly Digest BlobDigest = Digest.Compute(BlobBytes);

    [Fact]
    public async Task GetManifestAsync_FiveMiBWithContentLength_RefusedBeforeReading()
    {
        byte[] big = BigManifest(5 * 1024 * 1024);
        await using var server = await LoopbackHttpServer.StartAsync(async context =>
        {
            context.Response.ContentType = MediaTypes.OciManifest;
            context.Response.ContentLength = big.Length;
            await context.Response.Body.WriteAsync(big);
        });
        using var client = new RegistryClient(RegistryFixture.Options());
        var error = await Assert.ThrowsAsync<ContentTooLargeException>(() => client.GetManifestAsync(server.Host, "big/manifest", "latest"));
        Assert.Contains("4194304", error.Message);
    }

    [Fact]
    public async Task GetManifestAsync_FiveMiBChunked_RefusedWhileReading()
    {
        byte[] big = BigManifest(5 * 1024 * 1024);
        await using var server = await LoopbackHttpServer.StartAsync(async context =>
        {
            context.Response.ContentType = MediaTypes.OciManifest;
            for (int i = 0; i < big.Length; i += 65536)
            {
                await context.Response.Body.WriteAsync(big.AsMemory(i, Math.Min(65536, big.Length - i)));
                await context.Response.Body.FlushAsync();
            }
        });
        using var client = new RegistryClient(RegistryFixture.Options(o => o.MaxManifestBytes = 1024 * 1024));
        var error = await Assert.ThrowsAsync<ContentTooLargeException>(() => client.GetManifestAsync(server.Host, "big/manifest", "latest"));
        Assert.Contains("1048576", error.Message);
    }

    [Fact]
    public async Task GetBlobAsync_WrongBytes_ThrowsDigestMismatchAtEnd()
    {
        byte[] wrong = Encoding.UTF8.GetBytes("the wrong bytes of a blob");
        Assert.Equal(BlobBytes.Length, wrong.Length);
        await using var server = await LoopbackHttpServer.StartAsync(context => context.Response.Body.WriteAsync(wrong).AsTask());
        using var client = new RegistryClient(RegistryFixture.Options());
        var source = client.GetStore(server.Host).Blobs;

        await Assert.ThrowsAsync<DigestMismatchException>(() => source.ReadAllBytesAsync(new BlobAddress("bad/blob", BlobDigest, BlobBytes.Length), 1024));
        await Assert.ThrowsAsync<DigestMismatchException>(() => source.ReadAllBytesAsync(new BlobAddress("bad/blob", BlobDigest), 1024));
        string dir = Directory.CreateTempSubdirectory("accel-bad-").FullName;
        try
        {
            var blob = new Descriptor(MediaTypes.OciLayer, BlobDigest, BlobBytes.Length);
            await Assert.ThrowsAsync<DigestMismatchException>(() => client.DownloadBlobsToDirectoryAsync(server.Host, "bad/blob", [blob], dir));
            Assert.Empty(Directory.GetFiles(dir, "*", SearchOption.AllDirectories));
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [Fact]
    public async Task GetManifestAsync_WrongBytes_ThrowsDigestMismatch()
    {
        var real = TestImage.Create(101).Manifest;
        var other = TestImage.Create(102).Manifest;
        await using var server = await LoopbackHttpServer.StartAsync(async context =>
        {
            context.Response.ContentType = MediaTypes.OciManifest;
            // By tag, the registry vouches for a digest the bytes do not have.
            context.Response.Headers["Docker-Content-Digest"] = real.Digest.ToString();
            await context.Response.Body.WriteAsync(other.Bytes);
        });
        using var client = new RegistryClient(RegistryFixture.Options());
        await Assert.ThrowsAsync<DigestMismatchException>(() => client.GetManifestAsync(server.Host, "bad/manifest", real.Digest.ToString()));
        await Assert.ThrowsAsync<DigestMismatchException>(() => client.GetManifestAsync(server.Host, "bad/manifest", "latest"));
    }

    [Fact]
    public async Task GetBlobAsync_RedirectToOtherHost_DropsAuthorization()
    {
        var seen = new ConcurrentQueue<(string Server, string Path, string? Authorization)>();
        await using var storage = await LoopbackHttpServer.StartAsync(async context =>
        {
            seen.Enqueue(("storage", context.Request.Path + context.Request.QueryString, context.Request.Headers.Authorization.FirstOrDefault()));
            await context.Response.Body.WriteAsync(BlobBytes);
        }, "127.0.0.2");
        await using var registry = await LoopbackHttpServer.StartAsync(async context =>
        {
            string? authorization = context.Request.Headers.Authorization.FirstOrDefault();
            seen.Enqueue(("registry", context.Request.Path.Value!, authorization));
            if (authorization != "Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes("alice:wonder")))
            {
                context.Response.StatusCode = 401;
                context.Response.Headers.WWWAuthenticate = "Basic realm=\"stand-in\"";
                return;
            }

            if (context.Request.Path.StartsWithSegments("/same-host"))
            {
                await context.Response.Body.WriteAsync(BlobBytes);
                return;
            }

            context.Response.StatusCode = 307;
            context.Response.Headers.Location = context.Request.Path.Value!.Contains("/same/")
                ? "/same-host/blob"
                : new Uri(storage.Url, "storage/blob?signature=abc").ToString();
        });
        // The stand-in storage is on loopback too, which a registry's redirect may reach only when allowed.
        using var client = new RegistryClient(RegistryFixture.Options(o =>
        {
            o.Hosts[registry.Host] = new RegistryHostOptions { Username = "alice", Password = "wonder" };
            o.AllowLocalRedirectTargets = true;
        }));
        var source = client.GetStore(registry.Host).Blobs;

        Assert.Equal(BlobBytes, await source.ReadAllBytesAsync(new BlobAddress("other/host", BlobDigest, BlobBytes.Length), 1024));
        Assert.Equal(BlobBytes, await source.ReadAllBytesAsync(new BlobAddress("same/host", BlobDigest, BlobBytes.Length), 1024));

        var log = seen.ToList();
        Assert.Contains(log, e => e.Server == "registry" && e.Path.StartsWith("/v2/other/host/blobs/", StringComparison.Ordinal) && e.Authorization is not null);
        var toStorage = Assert.Single(log, e => e.Server == "storage");
        Assert.Null(toStorage.Authorization);
        Assert.Equal("/storage/blob?signature=abc", toStorage.Path);
        Assert.Contains(log, e => e.Server == "registry" && e.Path == "/same-host/blob" && e.Authorization is not null);
    }

    [Fact]
    public async Task GetManifestAsync_Two503sThenRegistry_RetriesAndSucceeds()
    {
        using var seed = new RegistryClient(RegistryFixture.Options());
        var image = TestImage.Create(111);
        await image.PushAsync(seed, fixture.Open.Host, "retry/app", "v1");
        int attempts = 0;
        using var upstream = new HttpClient();
        await using var server = await LoopbackHttpServer.StartAsync(async context =>
        {
            if (Interlocked.Increment(ref attempts) <= 2)
            {
                context.Response.StatusCode = 503;
                return;
            }

            await ProxyAsync(context, upstream, fixture.Open.Url);
        });
        using var client = new RegistryClient(RegistryFixture.Options());
        var manifest = await client.GetManifestAsync(server.Host, "retry/app", "v1");
        Assert.Equal(image.Manifest.Digest, manifest.Digest);
        Assert.Equal(3, attempts);
    }

    [Fact]
    public async Task GetManifestAsync_429WithRetryAfter_WaitsAndSucceeds()
    {
        using var seed = new RegistryClient(RegistryFixture.Options());
        var image = TestImage.Create(112);
        await image.PushAsync(seed, fixture.Open.Host, "retry/limited", "v1");
        int attempts = 0;
        using var upstream = new HttpClient();
        await using var server = await LoopbackHttpServer.StartAsync(async context =>
        {
            if (Interlocked.Increment(ref attempts) == 1)
            {
                context.Response.StatusCode = 429;
                context.Response.Headers.RetryAfter = "1";
                return;
            }

            await ProxyAsync(context, upstream, fixture.Open.Url);
        });
        using var client = new RegistryClient(RegistryFixture.Options());
        var watch = Stopwatch.StartNew();
        var manifest = await client.GetManifestAsync(server.Host, "retry/limited", "v1");
        Assert.Equal(image.Manifest.Digest, manifest.Digest);
        Assert.Equal(2, attempts);
        Assert.True(watch.Elapsed >= TimeSpan.FromMilliseconds(900), $"waited only {watch.Elapsed}");
    }

    [Fact]
    public async Task GetManifestAsync_Always503_FailsAfterRetriesWithStatus()
    {
        int attempts = 0;
        await using var server = await LoopbackHttpServer.StartAsync(async context =>
        {
            Interlocked.Increment(ref attempts);
            context.Response.StatusCode = 503;
            context.Response.ContentType = "application/json";
            await context.Response.WriteAsync("""{"errors":[{"code":"UNAVAILABLE","message":"service unavailable"}]}""");
        });
        using var client = new RegistryClient(RegistryFixture.Options(o => o.MaxRetries = 2));
        var error = await Assert.ThrowsAsync<RegistryException>(() => client.GetManifestAsync(server.Host, "down/app", "v1"));
        Assert.Equal(HttpStatusCode.ServiceUnavailable, error.StatusCode);
        Assert.Equal("UNAVAILABLE", error.ErrorCode);
        Assert.Contains("UNAVAILABLE: service unavailable", error.Message);
        Assert.Equal(3, attempts);
    }

    [Fact]
    public async Task HeadBlobAsync_SlowFirstAnswer_TimesOutAndRetries()
    {
        int attempts = 0;
        await using var server = await LoopbackHttpServer.StartAsync(async context =>
        {
            if (Interlocked.Increment(ref attempts) == 1)
            {
                await Task.Delay(3000, context.RequestAborted).ContinueWith(_ => { });
                return;
            }

            context.Response.ContentLength = 42;
        });
        using var client = new RegistryClient(RegistryFixture.Options(o => { o.RequestTimeout = TimeSpan.FromMilliseconds(300); o.MaxRetries = 1; }));
        Assert.Equal(42, await client.HeadBlobAsync(server.Host, "slow/app", BlobDigest));
        Assert.Equal(2, attempts);
    }

    [Fact]
    public async Task PingAsync_PlainHttpRegistryWithoutPlainHttp_RefusedClearly()
    {
        var options = RegistryFixture.Options(o => { o.PlainHttp = false; o.MaxRetries = 0; });
        using var client = new RegistryClient(options);
        var error = await Assert.ThrowsAsync<RegistryException>(() => client.PingAsync(fixture.Open.Host));
        Assert.StartsWith("GET https://", error.Message);

        var perHost = RegistryFixture.Options(o => { o.PlainHttp = false; o.Hosts[fixture.Open.Host] = new RegistryHostOptions { PlainHttp = true }; });
        using var allowed = new RegistryClient(perHost);
        Assert.Equal(HttpStatusCode.OK, (await allowed.PingAsync(fixture.Open.Host)).StatusCode);
    }

    [Fact]
    public async Task GetBlobRangeAsync_ServerIgnoresRange_SkipsToOffset()
    {
        await using var server = await LoopbackHttpServer.StartAsync(context => context.Response.Body.WriteAsync(BlobBytes).AsTask());
        using var client = new RegistryClient(RegistryFixture.Options());
        await using var range = await client.GetBlobRangeAsync(server.Host, "norange/app", BlobDigest, 4, 5);
        var copy = new MemoryStream();
        await range.CopyToAsync(copy);
        Assert.Equal(BlobBytes.AsSpan(4, 5).ToArray(), copy.ToArray());
    }

    [Fact]
    public async Task ListTagsAsync_LinkPagination_FollowsRelativeAndAbsoluteLinks()
    {
        var requests = new ConcurrentQueue<string>();
        LoopbackHttpServer? self = null;
        await using var server = await LoopbackHttpServer.StartAsync(async context =>
        {
            string query = context.Request.QueryString.Value ?? "";
            requests.Enqueue(query);
            context.Response.ContentType = "application/json";
            if (!query.Contains("last="))
            {
                context.Response.Headers["Link"] = "</v2/paged/app/tags/list?n=2&last=b>; rel=\"next\"";
                await context.Response.WriteAsync("""{"name":"paged/app","tags":["a","b"]}""");
            }
            else if (query.Contains("last=b"))
            {
                context.Response.Headers["Link"] = $"<{new Uri(self!.Url, "v2/paged/app/tags/list?n=2&last=d")}>; rel=\"next\"";
                await context.Response.WriteAsync("""{"name":"paged/app","tags":["c","d"]}""");
            }
            else
            {
                await context.Response.WriteAsync("""{"name":"paged/app","tags":["e"]}""");
            }
        });
        self = server;
        using var client = new RegistryClient(RegistryFixture.Options());
        Assert.Equal(["a", "b", "c", "d", "e"], await client.ListTagsAsync(server.Host, "paged/app", pageSize: 2));
        Assert.Equal(["?n=2", "?n=2&last=b", "?n=2&last=d"], requests);
    }

    [Fact]
    public async Task ListTagsAsync_LinkToOtherOrigin_Refused()
    {
        await using var server = await LoopbackHttpServer.StartAsync(async context =>
        {
            context.Response.ContentType = "application/json";
            context.Response.Headers["Link"] = "<http://127.0.0.2:1/v2/x/tags/list?last=a>; rel=\"next\"";
            await context.Response.WriteAsync("""{"name":"x","tags":["a"]}""");
        });
        using var client = new RegistryClient(RegistryFixture.Options());
        var error = await Assert.ThrowsAsync<RegistryException>(() => client.ListTagsAsync(server.Host, "x"));
        Assert.Contains("another origin", error.Message);
    }

    private static byte[] BigManifest(int size)
    {
        var manifest = TestImage.Create(100).Manifest.Manifest!;
        var padded = manifest with { Annotations = new Dictionary<string, string> { ["pad"] = new string('x', size) } };
        return ManifestDocument.From(padded).Bytes.ToArray();
    }

    private static async Task ProxyAsync(HttpContext context, HttpClient upstream, Uri target)
    {
        var request = new HttpRequestMessage(new HttpMethod(context.Request.Method), new Uri(target, context.Request.Path + context.Request.QueryString));
        foreach (string? accept in context.Request.Headers.Accept)
        {
            request.Headers.TryAddWithoutValidation("Accept", accept);
        }

        using var response = await upstream.SendAsync(request);
        context.Response.StatusCode = (int)response.StatusCode;
        foreach (var header in response.Headers.Concat(response.Content.Headers))
        {
            if (header.Key is not ("Transfer-Encoding" or "Connection"))
            {
                context.Response.Headers[header.Key] = header.Value.ToArray();
            }
        }

        await response.Content.CopyToAsync(context.Response.Body);
    }
}

/// <summary>HTTPS stand-ins: certificate verification per host and no downgrade to plain HTTP.</summary>
public sealed class RegistryTlsTests
{
    private static RegistryOptions Https(Action<RegistryOptions>? configure = null) => RegistryFixture.Options(o =>
    {
        o.PlainHttp = false;
        o.MaxRetries = 0;
        configure?.Invoke(o);
    });

    [Fact]
    public async Task PingAsync_SelfSignedCertificate_RefusedUnlessSkipTlsVerify()
    {
        using var certificate = LoopbackHttpServer.CreateSelfSignedCertificate();
        await using var server = await LoopbackHttpServer.StartAsync(context => Task.CompletedTask, certificate: certificate);

        using var strict = new RegistryClient(Https());
        var error = await Assert.ThrowsAsync<RegistryException>(() => strict.PingAsync(server.Host));
        Assert.StartsWith("GET https://", error.Message);

        using var lenient = new RegistryClient(Https(o => o.Hosts[server.Host] = new RegistryHostOptions { SkipTlsVerify = true }));
        Assert.Equal(HttpStatusCode.OK, (await lenient.PingAsync(server.Host)).StatusCode);
    }

    [Fact]
    public async Task GetBlobAsync_RedirectFromHttpsToHttp_Refused()
    {
        int plainHits = 0;
        await using var plain = await LoopbackHttpServer.StartAsync(context =>
        {
            Interlocked.Increment(ref plainHits);
            return Task.CompletedTask;
        }, "127.0.0.2");
        using var certificate = LoopbackHttpServer.CreateSelfSignedCertificate();
        await using var server = await LoopbackHttpServer.StartAsync(context =>
        {
            context.Response.StatusCode = 302;
            context.Response.Headers.Location = new Uri(plain.Url, "blob").ToString();
            return Task.CompletedTask;
        }, certificate: certificate);
        using var client = new RegistryClient(Https(o => o.Hosts[server.Host] = new RegistryHostOptions { SkipTlsVerify = true }));
        var error = await Assert.ThrowsAsync<RegistryException>(() => client.GetBlobAsync(server.Host, "tls/app", Digest.Compute("x"u8)));
        Assert.Contains("plain HTTP", error.Message);
        Assert.Equal(0, plainHits);
    }
}

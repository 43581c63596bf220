using System.Text;
using Accelerator.Oci.Registry;
using Accelerator.Oci.Tests.Registry;
using Accelerator.Testing.Registry;

namespace Accelerator.Oci.Tests.Issues;

/// <summary>
/// Issue 12, B8: the registry client followed a registry's redirects for every request and to any address, so a
/// registry could point a manifest request, or a blob read, at a service on this host.
/// </summary>
public sealed class Issue12_RegistryRedirectTests
{
    private static readonly byte[] Secret = Encoding.UTF8.GetBytes("{\"internal\":\"secret of a service on this host\"}");

    /// <summary>An "internal" service on loopback that counts the requests it gets.</summary>
    private sealed class InternalService : IAsyncDisposable
    {
        private LoopbackHttpServer _server = null!;
        private int _hits;

        public int Hits => Volatile.Read(ref _hits);

        public Uri Url => _server.Url;

        public static async Task<InternalService> StartAsync()
        {
            var service = new InternalService();
            service._server = await LoopbackHttpServer.StartAsync(async context =>
            {
                Interlocked.Increment(ref service._hits);
                context.Response.ContentType = "application/vnd.oci.image.manifest.v1+json";
                await context.Response.Body.WriteAsync(Secret);
            }, "127.0.0.2");
            return service;
        }

        public ValueTask DisposeAsync() => _server.DisposeAsync();
    }

    private static Task<LoopbackHttpServer> RedirectingRegistryAsync(Uri target)
        => LoopbackHttpServer.StartAsync(context =>
        {
            context.Response.StatusCode = 307;
            context.Response.Headers.Location = new Uri(target, "internal/data").AbsoluteUri;
            return Task.CompletedTask;
        });

    [Fact]
    public async Task GetManifestAsync_RegistryRedirectsElsewhere_NotFollowed()
    {
        await using var internalService = await InternalService.StartAsync();
        await using var registry = await RedirectingRegistryAsync(internalService.Url);
        using var client = new RegistryClient(RegistryFixture.Options(o => o.AllowLocalRedirectTargets = true));

        var error = await Assert.ThrowsAsync<RegistryException>(() => client.GetManifestAsync(registry.Host, "team/app", "latest"));

        Assert.Contains("redirect", error.Message, StringComparison.Ordinal);
        Assert.Equal(0, internalService.Hits);
    }

    [Theory]
    [InlineData("127.0.0.2")]
    [InlineData("localhost")]
    public async Task GetBlobAsync_RedirectToLoopbackAddress_RefusedWithoutConnecting(string host)
    {
        await using var internalService = await InternalService.StartAsync();
        // By address, or by a name that resolves to loopback (caught at connect time).
        var target = new UriBuilder(internalService.Url) { Host = host }.Uri;
        await using var registry = await RedirectingRegistryAsync(target);
        using var client = new RegistryClient(RegistryFixture.Options(o => o.MaxRetries = 0));

        var error = await Assert.ThrowsAsync<RegistryException>(() => client.GetBlobAsync(registry.Host, "team/app", Digest.Compute(Secret)));

        Assert.Contains("loopback", error.Message, StringComparison.Ordinal);
        Assert.Equal(0, internalService.Hits);
    }
}

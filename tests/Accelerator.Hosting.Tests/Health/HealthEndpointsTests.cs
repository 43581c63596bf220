using System.Net;
using Accelerator.Hosting.Health;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Accelerator.Hosting.Tests.Health;

/// <summary>The health paths on a real listener, answered from a real <see cref="HealthCheckService"/>.</summary>
public sealed class HealthEndpointsTests : IAsyncLifetime
{
    private readonly HttpClient _http = new();
    private HealthStatus _ready = HealthStatus.Healthy;
    private ServiceProvider _services = null!;
    private KestrelListener _listener = null!;

    public async Task InitializeAsync()
    {
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddHealthChecks()
            .AddCheck("d-live", () => HealthCheckResult.Healthy(), HealthEndpoints.LivenessTags("d"))
            .AddCheck("d-ready", () => new HealthCheckResult(_ready, "queue full"), HealthEndpoints.ReadinessTags("d"))
            .AddCheck("other", () => HealthCheckResult.Unhealthy("not mine"), HealthEndpoints.LivenessAndReadinessTags("other"));
        _services = services.BuildServiceProvider();
        var health = new HealthEndpoints(_services.GetRequiredService<HealthCheckService>(), "d");
        _listener = await KestrelListener.StartAsync(
            new Uri("http://127.0.0.1:0"), context => context.Response.WriteAsync("daemon " + context.Request.Path), 1024, CancellationToken.None, health: health);
    }

    [Fact]
    public async Task Get_Healthz_OkFromTheDaemonsOwnChecks()
    {
        using var response = await _http.GetAsync(new Uri(_listener.Url, "healthz"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("ok\n", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Get_Readyz_UnhealthyCheck_503WithItsReason()
    {
        _ready = HealthStatus.Unhealthy;

        using var response = await _http.GetAsync(new Uri(_listener.Url, "readyz"));

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Equal("d-ready: unhealthy (queue full)\n", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Get_Readyz_DegradedCheck_OkWithItsReason()
    {
        _ready = HealthStatus.Degraded;

        using var response = await _http.GetAsync(new Uri(_listener.Url, "readyz"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("ok\nd-ready: degraded (queue full)\n", await response.Content.ReadAsStringAsync());
    }

    [Theory]
    [InlineData("GET", "metrics")]
    [InlineData("POST", "healthz")]
    public async Task Request_OtherPathOrMethod_GoesToTheDaemon(string method, string path)
    {
        using var response = await _http.SendAsync(new HttpRequestMessage(new HttpMethod(method), new Uri(_listener.Url, path)));

        Assert.Equal("daemon /" + path, await response.Content.ReadAsStringAsync());
    }

    public async Task DisposeAsync()
    {
        _http.Dispose();
        await _listener.DisposeAsync();
        await _services.DisposeAsync();
    }
}

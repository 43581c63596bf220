using System.Net;
using Accelerator.Hosting.Health;
using Accelerator.Oci.Registry;
using Accelerator.P2P.Hosting;
using Accelerator.P2P.Scheduling;
using Accelerator.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Accelerator.P2P.Tests.Hosting;

/// <summary>What an embedder does: a scheduler and a peer composed in one generic host, with their health endpoints.</summary>
public sealed class P2PHostingTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "accel-p2p-hosting-" + Guid.NewGuid().ToString("N"));
    private readonly HttpClient _http = new();

    [Fact]
    public async Task CreateApplicationBuilder_SchedulerAndPeer_ServeAndAnswerHealth()
    {
        var schedulerUrl = new Uri($"http://127.0.0.1:{LoopbackPorts.Free()}/");
        var builder = Host.CreateApplicationBuilder();
        builder.Services
            .AddP2PScheduler(o =>
            {
                o.Listen = schedulerUrl;
                o.Registry = new RegistryOptions { PlainHttp = true, MaxRetries = 0 };
                o.Scheduler = new P2PSchedulerOptions { PieceSize = 64 * 1024 };
            })
            .AddP2PPeer(o =>
            {
                o.PeerId = "hosted";
                o.Listen = new Uri("http://127.0.0.1:0/");
                o.DataDirectory = Path.Combine(_root, "peer");
                o.Registry = new RegistryOptions { PlainHttp = true, MaxRetries = 0 };
                o.Schedulers.Add(schedulerUrl);
            });
        using var host = builder.Build();

        await host.StartAsync();
        try
        {
            var scheduler = host.Services.GetRequiredService<P2PSchedulerHostedService>().Server!;
            var peer = host.Services.GetRequiredService<P2PPeerHostedService>().Peer!;
            Assert.Equal(schedulerUrl, scheduler.Url);

            // Each daemon serves its own API and metrics on its listener...
            Assert.Contains("accel_p2p_scheduler_peers 1", await _http.GetStringAsync(new Uri(scheduler.Url, "metrics")), StringComparison.Ordinal);
            Assert.Contains("accel_p2p_peer_", await _http.GetStringAsync(new Uri(peer.Url, "metrics")), StringComparison.Ordinal);

            // ...and the host's health checks for it: live, and ready (the peer has reached the scheduler).
            foreach (var url in new[] { scheduler.Url, peer.Url })
            {
                foreach (string path in new[] { HealthEndpoints.LivenessPath, HealthEndpoints.ReadinessPath })
                {
                    using var response = await _http.GetAsync(new Uri(url, path.TrimStart('/')));
                    Assert.Equal(HttpStatusCode.OK, response.StatusCode);
                    Assert.Equal("ok\n", await response.Content.ReadAsStringAsync());
                }
            }
        }
        finally
        {
            await host.StopAsync();
        }

        Assert.Null(host.Services.GetRequiredService<P2PPeerHostedService>().Peer);
        Assert.Null(host.Services.GetRequiredService<P2PSchedulerHostedService>().Server);
    }

    [Fact]
    public async Task AddP2PPeer_SchedulerUnreachable_LiveButNotReady()
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Services.AddP2PPeer(o =>
        {
            o.Listen = new Uri("http://127.0.0.1:0/");
            o.DataDirectory = Path.Combine(_root, "lonely");
            o.Registry = new RegistryOptions { PlainHttp = true, MaxRetries = 0 };
            o.SchedulerTimeout = TimeSpan.FromSeconds(1);
            o.Schedulers.Add(new Uri($"http://127.0.0.1:{LoopbackPorts.Free()}/"));
        });
        using var host = builder.Build();

        await host.StartAsync();
        try
        {
            var peer = host.Services.GetRequiredService<P2PPeerHostedService>().Peer!;
            using var live = await _http.GetAsync(new Uri(peer.Url, "healthz"));
            using var ready = await _http.GetAsync(new Uri(peer.Url, "readyz"));

            Assert.Equal(HttpStatusCode.OK, live.StatusCode);
            Assert.Equal(HttpStatusCode.ServiceUnavailable, ready.StatusCode);
            Assert.Contains("no scheduler reached yet", await ready.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }
        finally
        {
            await host.StopAsync();
        }
    }

    [Fact]
    public async Task AddP2PScheduler_InvalidOptions_StartThrowsTheValidationError()
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Services.AddP2PScheduler(o => o.Scheduler = new P2PSchedulerOptions { PieceSize = 1 });
        using var host = builder.Build();

        var error = await Assert.ThrowsAnyAsync<Exception>(() => host.StartAsync());
        Assert.Contains("PieceSize", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AddRegistryMirrorProxy_InvalidOptions_HostStartThrowsBeforeThePeerStarts()
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Services
            .AddP2PPeer(o =>
            {
                o.Listen = new Uri("http://127.0.0.1:0/");
                o.DataDirectory = Path.Combine(_root, "peer");
            })
            .AddRegistryMirrorProxy(o => o.Listen = new Uri("http://0.0.0.0:0"));
        using var host = builder.Build();

        var error = await Assert.ThrowsAsync<Microsoft.Extensions.Options.OptionsValidationException>(() => host.StartAsync());

        Assert.Contains("--allow-upstream", error.Message, StringComparison.Ordinal);
        Assert.False(Directory.Exists(Path.Combine(_root, "peer")));
    }

    public void Dispose()
    {
        _http.Dispose();
        if (Directory.Exists(_root))
        {
            Directory.Delete(_root, recursive: true);
        }
    }
}

using System.Net;
using System.Text;
using Accelerator.Oci.Copying;
using Accelerator.Oci.Layout;
using Accelerator.Oci.Registry;
using Accelerator.Testing.Samples;
using Accelerator.P2P.Protocol;
using Accelerator.P2P.Scheduling;
using Accelerator.P2P.Tests.Infrastructure;
using Accelerator.Testing.Registry;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Accelerator.P2P.Tests.Scheduling;

/// <summary>The scheduler API over HTTP: bounds, errors, metrics, embedding, and preheat against a real docker-registry.</summary>
public sealed class P2PSchedulerServiceTests
{
    private static async Task<(HttpStatusCode Status, string Body)> PostAsync(HttpClient http, Uri scheduler, string path, byte[] body)
    {
        using var content = new ByteArrayContent(body);
        content.Headers.ContentType = new("application/json");
        using var response = await http.PostAsync(new Uri(scheduler, path), content);
        return (response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Post_BadRequests_OneClearErrorEach()
    {
        await using var cluster = new P2PCluster();
        var scheduler = await cluster.StartSchedulerAsync();
        using var http = new HttpClient();
        var task = Digest.Compute("t"u8);

        var (status, body) = await PostAsync(http, scheduler.Url, P2PProtocol.HeartbeatPath, new byte[P2PProtocol.MaxRequestBytes + 10]);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, status);
        Assert.Contains("\"error\"", body, StringComparison.Ordinal);

        (status, body) = await PostAsync(http, scheduler.Url, P2PProtocol.HeartbeatPath, "{\"peer\":"u8.ToArray());
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.StartsWith("{\"error\":\"Bad HeartbeatRequest: malformed JSON", body, StringComparison.Ordinal);

        (status, _) = await PostAsync(http, scheduler.Url, P2PProtocol.TaskPath(task, "schedule"), P2PProtocol.Serialize(new ScheduleRequest { PeerId = "nobody" }));
        Assert.Equal(HttpStatusCode.NotFound, status);

        (status, _) = await PostAsync(http, scheduler.Url, "/api/v1/elsewhere", "{}"u8.ToArray());
        Assert.Equal(HttpStatusCode.NotFound, status);

        using var put = await http.PutAsync(new Uri(scheduler.Url, P2PProtocol.LeavePath), new ByteArrayContent([]));
        Assert.Equal(HttpStatusCode.MethodNotAllowed, put.StatusCode);
        Assert.True(scheduler.Service.FormatMetrics().Contains("accel_p2p_scheduler_bad_requests_total 1", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Get_MetricsAndHealth_PrometheusText()
    {
        await using var cluster = new P2PCluster();
        var scheduler = await cluster.StartSchedulerAsync();
        await cluster.StartPeerAsync("p");
        using var http = new HttpClient();

        using var metrics = await http.GetAsync(new Uri(scheduler.Url, "/metrics"));
        string text = await metrics.Content.ReadAsStringAsync();

        Assert.Equal("text/plain; version=0.0.4; charset=utf-8", metrics.Content.Headers.ContentType!.ToString());
        Assert.Contains("# TYPE accel_p2p_scheduler_peers gauge\naccel_p2p_scheduler_peers 1\n", text, StringComparison.Ordinal);
        Assert.Contains("accel_p2p_scheduler_heartbeats_total 1", text, StringComparison.Ordinal);
        Assert.Equal("ok\n", await http.GetStringAsync(new Uri(scheduler.Url, "/healthz")));
    }

    [Fact]
    public async Task MapP2PScheduler_InACustomHost_ServesTheApi()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(k => k.Listen(IPAddress.Loopback, 0));
        using var service = new P2PSchedulerService(new P2PScheduler(), new P2PSchedulerServerOptions());
        await using var app = builder.Build();
        app.MapGet("/", () => "custom host");
        app.MapP2PScheduler(service);
        await app.StartAsync();
        var url = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());
        using var http = new HttpClient();

        var (status, body) = await PostAsync(http, url, P2PProtocol.HeartbeatPath, P2PProtocol.Serialize(new HeartbeatRequest { Peer = new PeerInfo { PeerId = "p", Url = "http://127.0.0.1:1/" } }));

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(2000, P2PProtocol.Parse<HeartbeatResponse>(Encoding.UTF8.GetBytes(body)).IntervalMs);
        Assert.Equal("custom host", await http.GetStringAsync(url));
        Assert.True(service.Scheduler.KnowsPeer("p"));
        await app.StopAsync();
    }

    [Fact]
    public async Task Preheat_ImageInARealRegistry_SeedFetchesEveryBlobAndPeersGetThemFromIt()
    {
        await using var registry = await DockerRegistryProcess.StartAsync();
        await using var cluster = new P2PCluster(registry.Host);
        string layout = Path.Combine(cluster.Root, "layout");
        var image = await SampleImageGenerator.WriteLayoutAsync(layout, new SampleImageOptions { LayerCount = 2, TotalSize = 600 * 1024, Seed = 3 });
        var reference = ImageReference.Parse($"{registry.Host}/preheat/app:latest");
        using (var client = new RegistryClient(new RegistryOptions { PlainHttp = true }))
        {
            await ImageCopier.CopyAsync(OciImageLayout.Open(layout), ImageReference.Parse(image.OciReference), client.GetStore(registry.Host), reference);
        }

        var scheduler = await cluster.StartSchedulerAsync(o => o.Scheduler.HeartbeatInterval = TimeSpan.FromMilliseconds(50));
        var seed = await cluster.StartPeerAsync("seed", configure: o =>
        {
            o.Seed = true;
            o.HeartbeatInterval = TimeSpan.FromMilliseconds(50);
        });
        using var http = new HttpClient();
        http.DefaultRequestHeaders.Authorization = new("Bearer", P2PCluster.OperatorToken);

        var (status, body) = await PostAsync(http, scheduler.Url, P2PProtocol.PreheatPath, P2PProtocol.Serialize(new PreheatRequest { Image = reference.ToString(), Platform = "linux/amd64" }));

        Assert.Equal(HttpStatusCode.OK, status);
        var answer = P2PProtocol.Parse<PreheatResponse>(Encoding.UTF8.GetBytes(body), P2PProtocol.MaxResponseBytes);
        Assert.Equal(1, answer.SeedPeers);
        Assert.Equal(image.Layers.Select(l => l.Digest.Value).Prepend(image.Config.Digest.Value).Order(), answer.Blobs.Select(b => b.Digest).Order());
        while (seed.GetStatistics().BlobsPreheated < 3)
        {
            await Task.Delay(10);
        }

        var peer = await cluster.StartPeerAsync("late");
        foreach (var layer in image.Layers)
        {
            Assert.Equal(layer.Digest, await P2PCluster.PullAsync(peer, registry.Host, BlobAddress.For("preheat/app", layer)));
        }

        Assert.Equal(0, peer.GetStatistics().PiecesFromOrigin);
        Assert.True(peer.GetStatistics().PiecesFromPeers >= image.Layers.Count);
    }

    [Fact]
    public async Task Preheat_MissingImage_NotFound()
    {
        await using var registry = await DockerRegistryProcess.StartAsync();
        await using var cluster = new P2PCluster(registry.Host);
        var scheduler = await cluster.StartSchedulerAsync();
        using var http = new HttpClient();
        http.DefaultRequestHeaders.Authorization = new("Bearer", P2PCluster.OperatorToken);

        var (status, body) = await PostAsync(http, scheduler.Url, P2PProtocol.PreheatPath, P2PProtocol.Serialize(new PreheatRequest { Image = $"{registry.Host}/none/here:1" }));

        Assert.Equal(HttpStatusCode.NotFound, status);
        Assert.Contains("error", body, StringComparison.Ordinal);
    }
}

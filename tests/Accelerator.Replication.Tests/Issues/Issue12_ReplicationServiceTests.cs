using System.Net;
using System.Net.Http.Headers;
using System.Text;
using Accelerator.Oci.Registry;
using Accelerator.Replication;
using Accelerator.Oci.Tests.Layout;
using Accelerator.Oci.Tests.Registry;
using Accelerator.Replication.Tests;
using Accelerator.Testing.Registry;

namespace Accelerator.Replication.Tests.Issues;

/// <summary>
/// Issue 12, B10: <c>replicate serve</c> replicated from whatever registry an event's <c>request.host</c> named, accepted
/// unauthenticated notifications on any listener, and queued without bound.
/// </summary>
[Collection(ReplicationCollection.Name)]
public sealed class Issue12_ReplicationServiceTests(ReplicationFixture fixture) : IDisposable
{
    private const string Token = "issue12-notify-token";
    private const string SampleHost = "127.0.0.1:18098";
    private readonly TempDirectory _data = new();
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(10) };

    public void Dispose()
    {
        _http.Dispose();
        _data.Dispose();
    }

    private ReplicationServiceOptions Options(Action<ReplicationServiceOptions>? configure = null)
    {
        var options = new ReplicationServiceOptions
        {
            Listen = new Uri("http://127.0.0.1:0"),
            DataDirectory = _data.Path,
            BearerToken = Token,
        };
        configure?.Invoke(options);
        return options;
    }

    private static Replicator ReplicatorTo(RegistryClient client, string target)
    {
        var options = new ReplicationOptions();
        options.Targets.Add(ReplicationEndpoint.Parse(target));
        return new Replicator(client, options);
    }

    [Fact]
    public async Task Notification_ForgedEventNamingAttackerRegistry_RefusedAndNotReplicated()
    {
        using var client = new RegistryClient(RegistryFixture.Options());
        await using var attacker = await DockerRegistryProcess.StartAsync();
        var evil = TestImage.Create(1201);
        await evil.PushAsync(client, attacker.Host, "team/app", "1.0");
        await using var service = await ReplicationService.StartAsync(
            ReplicatorTo(client, fixture.TargetA.Host), Options(o => o.SourceRegistries.Add(fixture.Source.Host)));
        // A well-formed, authenticated push event, but naming the attacker's registry as the one pushed to.
        string forged = RegistryNotificationsTests.ManifestPush.Replace(SampleHost, attacker.Host, StringComparison.Ordinal);

        var status = await PostAsync(service, forged);

        Assert.Equal(HttpStatusCode.Forbidden, status);
        var metrics = service.GetMetrics();
        Assert.Equal((0L, 0, 1L), (metrics.EventsQueued, metrics.QueueLength, metrics.NotificationsRejected));
        Assert.Empty(Directory.GetFiles(_data.Path, "*.json"));
        Assert.Null(await client.HeadManifestAsync(fixture.TargetA.Host, "team/app", evil.Manifest.Digest.ToString()));
    }

    [Fact]
    public async Task StartAsync_WithoutTokenOrSources_RefusedUnlessLoopbackAndInsecure()
    {
        using var client = new RegistryClient(RegistryFixture.Options());
        var replicator = ReplicatorTo(client, "127.0.0.1:1");

        var noToken = await Assert.ThrowsAsync<ArgumentException>(() => ReplicationService.StartAsync(replicator, Options(o =>
        {
            o.BearerToken = null;
            o.SourceRegistries.Add(SampleHost);
        })));
        var remoteInsecure = await Assert.ThrowsAsync<ArgumentException>(() => ReplicationService.StartAsync(replicator, Options(o =>
        {
            o.BearerToken = null;
            o.AllowUnauthenticated = true;
            o.Listen = new Uri("http://0.0.0.0:0");
            o.SourceRegistries.Add(SampleHost);
        })));
        var noSource = await Assert.ThrowsAsync<ArgumentException>(() => ReplicationService.StartAsync(replicator, Options()));

        Assert.Contains("BearerToken is required", noToken.Message, StringComparison.Ordinal);
        Assert.Contains("loopback", remoteInsecure.Message, StringComparison.Ordinal);
        Assert.Contains("SourceRegistries", noSource.Message, StringComparison.Ordinal);
        await using var loopback = await ReplicationService.StartAsync(replicator, Options(o =>
        {
            o.BearerToken = null;
            o.AllowUnauthenticated = true;
            o.SourceRegistries.Add(SampleHost);
        }));
        Assert.Equal(HttpStatusCode.OK, await PostAsync(loopback, RegistryNotificationsTests.ManifestPush, token: null));
    }

    [Fact]
    public async Task Notification_QueueFull_503UntilRoomAndQueuedTagsStillMerge()
    {
        using var client = new RegistryClient(RegistryFixture.Options(o => o.MaxRetries = 0));
        await using var service = await ReplicationService.StartAsync(ReplicatorTo(client, "127.0.0.1:1"), Options(o =>
        {
            o.SourceRegistries.Add(SampleHost);
            o.MaxQueueLength = 2;
            o.RetryBaseDelay = TimeSpan.FromMinutes(10);
            o.RetryMaxDelay = TimeSpan.FromMinutes(10);
        }));
        string Tag(string tag) => RegistryNotificationsTests.ManifestPush.Replace("\"tag\": \"1.0\"", $"\"tag\": \"{tag}\"", StringComparison.Ordinal);

        Assert.Equal(HttpStatusCode.OK, await PostAsync(service, Tag("1.0")));
        Assert.Equal(HttpStatusCode.OK, await PostAsync(service, Tag("2.0")));
        using var full = await SendAsync(service, Tag("3.0"));
        Assert.Equal(HttpStatusCode.OK, await PostAsync(service, Tag("1.0")));

        Assert.Equal(HttpStatusCode.ServiceUnavailable, full.StatusCode);
        Assert.Contains("queue is full", await full.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.NotNull(full.Headers.RetryAfter);
        var metrics = service.GetMetrics();
        Assert.Equal((3L, 2, 1L), (metrics.EventsQueued, metrics.QueueLength, metrics.NotificationsRejected));
        Assert.Equal(2, Directory.GetFiles(_data.Path, "*.json").Length);
    }

    private async Task<HttpStatusCode> PostAsync(ReplicationService service, string body, string? token = Token)
    {
        using var response = await SendAsync(service, body, token);
        return response.StatusCode;
    }

    private async Task<HttpResponseMessage> SendAsync(ReplicationService service, string body, string? token = Token)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, service.EventsUrl)
        {
            Content = new ByteArrayContent(Encoding.UTF8.GetBytes(body)),
        };
        request.Content.Headers.ContentType = MediaTypeHeaderValue.Parse(RegistryNotifications.EnvelopeMediaTypeV1);
        if (token is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }

        return await _http.SendAsync(request);
    }
}

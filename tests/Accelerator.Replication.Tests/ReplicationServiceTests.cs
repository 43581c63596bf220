using System.Net;
using System.Net.Http.Headers;
using System.Text;
using Accelerator.Oci.Registry;
using Accelerator.Replication;
using Accelerator.Oci.Tests.Layout;
using Accelerator.Oci.Tests.Registry;
using Accelerator.Testing;
using Accelerator.Testing.Registry;

namespace Accelerator.Replication.Tests;

/// <summary>The notification endpoint, in-process, with real registries as senders and targets.</summary>
[Collection(ReplicationCollection.Name)]
public sealed class ReplicationServiceTests(ReplicationFixture fixture) : IDisposable
{
    private const string Token = "s3cret-notify-token";
    private const string EnvelopeType = RegistryNotifications.EnvelopeMediaTypeV1;
    private readonly TempDirectory _data = new();
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(10) };

    public void Dispose()
    {
        _http.Dispose();
        _data.Dispose();
    }

    private async Task<ReplicationService> StartAsync(RegistryClient client, string target, Action<ReplicationServiceOptions>? configure = null)
    {
        var options = new ReplicationOptions();
        options.Targets.Add(ReplicationEndpoint.Parse(target));
        var serviceOptions = new ReplicationServiceOptions
        {
            Listen = new Uri("http://127.0.0.1:0"),
            DataDirectory = _data.Path,
            BearerToken = Token,
            MaxRequestBodyBytes = 64 * 1024,
        };
        // The host the sample notifications name.
        serviceOptions.SourceRegistries.Add("127.0.0.1:18098");
        configure?.Invoke(serviceOptions);
        return await ReplicationService.StartAsync(new Replicator(client, options), serviceOptions);
    }

    [Fact]
    public async Task Notification_FromRegistryWithBearerHeader_PushReplicatedToTarget()
    {
        using var client = new RegistryClient(RegistryFixture.Options());
        int sourcePort = LoopbackPorts.Free();
        await using var service = await StartAsync(client, fixture.TargetA.Host, o => o.SourceRegistries.Add($"127.0.0.1:{sourcePort}"));
        var registryOptions = new DockerRegistryOptions { Port = sourcePort };
        registryOptions.NotificationEndpoints.Add(service.EventsUrl);
        registryOptions.NotificationHeaders["Authorization"] = "Bearer " + Token;
        await using var source = await DockerRegistryProcess.StartAsync(registryOptions);
        var image = TestImage.Create(900);

        await image.PushAsync(client, source.Host, "svc1/app", "v1");

        await WaitUntilAsync(() => Task.FromResult(service.GetMetrics() is { Replicated: 1, QueueLength: 0 }));
        Assert.NotNull(await client.HeadManifestAsync(fixture.TargetA.Host, "svc1/app", image.Manifest.Digest.ToString()));
        Assert.Equal(image.Manifest.Digest, (await client.HeadManifestAsync(fixture.TargetA.Host, "svc1/app", "v1"))!.Digest);
        var metrics = service.GetMetrics();
        Assert.Equal(1, metrics.EventsQueued);
        Assert.True(metrics.EventsIgnored >= 3, $"{metrics.EventsIgnored} ignored (blob pushes)");
        Assert.Equal(0, metrics.NotificationsRejected);
        Assert.Empty(Directory.GetFiles(_data.Path, "*.json"));
    }

    [Fact]
    public async Task Notification_Refused_RightStatusAndNothingQueued()
    {
        using var client = new RegistryClient(RegistryFixture.Options());
        await using var service = await StartAsync(client, "127.0.0.1:1");
        string push = RegistryNotificationsTests.ManifestPush;

        Assert.Equal(HttpStatusCode.Unauthorized, await PostAsync(service, push, token: null));
        Assert.Equal(HttpStatusCode.Unauthorized, await PostAsync(service, push, token: "wrong"));
        Assert.Equal(HttpStatusCode.UnsupportedMediaType, await PostAsync(service, push, contentType: "text/plain"));
        Assert.Equal(HttpStatusCode.BadRequest, await PostAsync(service, "{\"events\":[{\"action\":\"push\",\"target\":{\"digest\":\"md5:x\"}}]}"));
        Assert.Equal(HttpStatusCode.BadRequest, await PostAsync(service, push[..(push.Length / 2)]));
        string huge = push.Replace("\"actor\": {}", "\"actor\": {\"name\": \"" + new string('x', 70 * 1024) + "\"}", StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, await PostAsync(service, huge));
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, await PostAsync(service, huge, chunked: true));
        // A malformed event after a good one: the good one is not queued either.
        string mixed = "{\"events\":[" + push[(push.IndexOf('[', StringComparison.Ordinal) + 1)..push.LastIndexOf(']')] + ",{\"action\":\"push\",\"target\":{\"repository\":\"BAD\"}}]}";
        Assert.Equal(HttpStatusCode.BadRequest, await PostAsync(service, mixed));

        var metrics = service.GetMetrics();
        Assert.Equal((0L, 0L, 0, 8L), (metrics.EventsReceived, metrics.EventsQueued, metrics.QueueLength, metrics.NotificationsRejected));
        Assert.Empty(Directory.GetFiles(_data.Path, "*.json"));
        using var get = await _http.GetAsync(service.EventsUrl);
        Assert.Equal(HttpStatusCode.MethodNotAllowed, get.StatusCode);
        using var missing = await _http.GetAsync(new Uri(service.Url, "nope"));
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
    }

    [Fact]
    public async Task Notification_TargetDown_QueuedOncePerTagRetriedAndCounted()
    {
        using var client = new RegistryClient(RegistryFixture.Options(o => o.MaxRetries = 0));
        await TestImage.Create(910).PushAsync(client, fixture.Source.Host, "team/app", "1.0");
        await TestImage.Create(911).PushAsync(client, fixture.Source.Host, "team/app", "2.0");
        await using var service = await StartAsync(client, "127.0.0.1:1", o =>
        {
            o.SourceRegistries.Clear();
            o.SourceRegistry = fixture.Source.Host;
            o.RetryBaseDelay = TimeSpan.FromMinutes(10);
            o.RetryMaxDelay = TimeSpan.FromMinutes(10);
            // The events name a digest the source's tags do not have: copy what the tags name now.
            o.TagGracePeriod = TimeSpan.Zero;
        });
        string other = RegistryNotificationsTests.ManifestPush.Replace("\"tag\": \"1.0\"", "\"tag\": \"2.0\"", StringComparison.Ordinal);

        Assert.Equal(HttpStatusCode.OK, await PostAsync(service, RegistryNotificationsTests.ManifestPush));
        Assert.Equal(HttpStatusCode.OK, await PostAsync(service, RegistryNotificationsTests.ManifestPush));
        Assert.Equal(HttpStatusCode.OK, await PostAsync(service, other));
        Assert.Equal(HttpStatusCode.OK, await PostAsync(service, RegistryNotificationsTests.OtherEvents, contentType: "application/json"));

        await WaitUntilAsync(() => Task.FromResult(service.GetMetrics().Failures >= 2));
        var metrics = service.GetMetrics();
        Assert.Equal((6L, 3L, 3L, 2), (metrics.EventsReceived, metrics.EventsQueued, metrics.EventsIgnored, metrics.QueueLength));
        Assert.Equal(2, Directory.GetFiles(_data.Path, "*.json").Length);
        using var text = await _http.GetAsync(new Uri(service.Url, "metrics"));
        string body = await text.Content.ReadAsStringAsync();
        Assert.StartsWith("text/plain; version=0.0.4", text.Content.Headers.ContentType!.ToString(), StringComparison.Ordinal);
        Assert.Contains("\naccel_replication_queue_length 2\n", body, StringComparison.Ordinal);
        Assert.Contains("# TYPE accel_replication_failures_total counter\n", body, StringComparison.Ordinal);
        using var health = await _http.GetAsync(new Uri(service.Url, "healthz"));
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
    }

    [Fact]
    public async Task StartAsync_InvalidOptions_ArgumentException()
    {
        using var client = new RegistryClient(RegistryFixture.Options());
        await Assert.ThrowsAsync<ArgumentException>(() => StartAsync(client, "127.0.0.1:1", o => o.Listen = new Uri("https://127.0.0.1:0")));
        await Assert.ThrowsAsync<ArgumentException>(() => StartAsync(client, "127.0.0.1:1", o => o.MaxRequestBodyBytes = 10));
        await Assert.ThrowsAsync<ArgumentException>(() => StartAsync(client, "127.0.0.1:1", o =>
        {
            o.SourceRegistries.Clear();
            o.SourceRegistry = "host:5000/prefix";
        }));
    }

    private async Task<HttpStatusCode> PostAsync(ReplicationService service, string body, string? token = Token, string contentType = EnvelopeType, bool chunked = false)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, service.EventsUrl);
        var bytes = Encoding.UTF8.GetBytes(body);
        request.Content = chunked ? new StreamContent(new MemoryStream(bytes)) : new ByteArrayContent(bytes);
        request.Content.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType);
        if (chunked)
        {
            request.Headers.TransferEncodingChunked = true;
        }

        if (token is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }

        try
        {
            using var response = await _http.SendAsync(request);
            return response.StatusCode;
        }
        catch (HttpRequestException ex) when (ex.StatusCode is { } status)
        {
            return status;
        }
    }

    private static async Task WaitUntilAsync(Func<Task<bool>> condition)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "the condition was not met within 30 s");
            await Task.Delay(50);
        }
    }
}

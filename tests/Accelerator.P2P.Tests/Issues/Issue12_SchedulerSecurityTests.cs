using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using Accelerator.P2P.Protocol;
using Accelerator.P2P.Scheduling;
using Accelerator.P2P.Tests.Infrastructure;
using Accelerator.Testing.Registry;
using Microsoft.AspNetCore.Http;

namespace Accelerator.P2P.Tests.Issues;

/// <summary>
/// Issue 12, B4–B7: the scheduler vouches only for trusted registries and scopes tokens to (registry, digest); peers are
/// authenticated by a secret; reports about a parent count only from its assigned children; preheat and seed status need
/// the operator token; a registration cannot make the scheduler allocate without bound. The attacker here speaks the real
/// scheduler API over HTTP, with a registry of its own that answers 200 to every HEAD.
/// </summary>
public sealed class Issue12_SchedulerSecurityTests : IAsyncLifetime
{
    private const string Repository = "private/app";
    private static readonly string[] Secrets = ["alice", "wonderland"];
    private readonly HttpClient _http = new();
    private CountingRegistry _private = null!;
    private HostileRegistry _hostile = null!;

    public async Task InitializeAsync()
    {
        _private = await CountingRegistry.StartAsync(new Dictionary<string, string> { [Secrets[0]] = Secrets[1] });
        _hostile = await HostileRegistry.StartAsync();
    }

    public async Task DisposeAsync()
    {
        _http.Dispose();
        await _private.DisposeAsync();
        await _hostile.DisposeAsync();
    }

    /// <summary>A peer reads the private blob with alice's credentials, so it holds every piece and the task token.</summary>
    private async Task<(P2PCluster Cluster, P2PSchedulerServer Scheduler, Accelerator.P2P.Peers.P2PPeer Holder, BlobAddress Blob)> StartHolderAsync(
        Action<P2PSchedulerServerOptions>? configure = null, params string[] alsoTrusted)
    {
        var cluster = new P2PCluster([_private.Host, .. alsoTrusted]);
        try
        {
            var blob = _private.Put(Repository, P2PCluster.MakeContent(5 * P2PCluster.TestPieceSize + 17, 12));
            var scheduler = await cluster.StartSchedulerAsync(configure);
            var holder = await cluster.StartPeerAsync("holder");
            var source = holder.CreateBlobSource(_private.Host, new RegistryCredential { Username = Secrets[0], Password = Secrets[1] });
            await using (var stream = await source.OpenReadAsync(blob))
            {
                Assert.Equal(blob.Digest, await Digest.ComputeAsync(stream));
            }

            return (cluster, scheduler, holder, blob);
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }
    }

    private async Task<(HttpStatusCode Status, string Body)> PostAsync(Uri scheduler, string path, object message, string? secret = null, string? bearer = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(scheduler, path))
        {
            Content = new ByteArrayContent(message switch
            {
                byte[] raw => raw,
                HeartbeatRequest m => P2PProtocol.Serialize(m),
                LeaveRequest m => P2PProtocol.Serialize(m),
                RegisterTaskRequest m => P2PProtocol.Serialize(m),
                PieceReportRequest m => P2PProtocol.Serialize(m),
                TaskCompleteRequest m => P2PProtocol.Serialize(m),
                PreheatRequest m => P2PProtocol.Serialize(m),
                _ => throw new ArgumentException("not a message", nameof(message)),
            }),
        };
        request.Content.Headers.ContentType = new("application/json");
        if (secret is not null)
        {
            request.Headers.Add(P2PProtocol.PeerSecretHeader, secret);
        }

        if (bearer is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", bearer);
        }

        using var response = await _http.SendAsync(request);
        return (response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    private static PeerInfo Attacker(string id = "mallory", bool seed = false) => new() { PeerId = id, Url = "http://127.0.0.1:9/", UploadSlots = 4, Seed = seed };

    private async Task<HttpStatusCode> GetPieceAsync(Accelerator.P2P.Peers.P2PPeer holder, Digest task, string token)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(holder.Url, P2PProtocol.PiecePath(task, 0)));
        request.Headers.Add(P2PProtocol.TokenHeader, token);
        using var response = await _http.SendAsync(request);
        return response.StatusCode;
    }

    // B4 ---------------------------------------------------------------------------------------------------------------

    [Fact]
    public async Task Register_HostileRegistryNotTrusted_RefusedWithoutAskingIt()
    {
        var (cluster, scheduler, _, blob) = await StartHolderAsync();
        await using var owned = cluster;

        var (status, body) = await PostAsync(scheduler.Url, P2PProtocol.RegisterPath, new RegisterTaskRequest
        {
            Peer = Attacker(),
            Blob = new BlobRef { Registry = _hostile.Host, Repository = Repository, Digest = blob.Digest.Value },
        });

        Assert.Equal(HttpStatusCode.Forbidden, status);
        Assert.DoesNotContain("\"token\"", body, StringComparison.Ordinal);
        Assert.Equal(0, _hostile.Requests);
    }

    [Fact]
    public async Task PieceApi_TokenEarnedAtAnotherRegistry_DoesNotOpenThePrivateBlobsPieces()
    {
        // Even a registry the operator trusts by mistake only earns tokens for its own tasks.
        var (cluster, scheduler, holder, blob) = await StartHolderAsync(alsoTrusted: _hostile.Host);
        await using var owned = cluster;
        _hostile.Size = blob.Size;

        var (status, body) = await PostAsync(scheduler.Url, P2PProtocol.RegisterPath, new RegisterTaskRequest
        {
            Peer = Attacker(),
            Blob = new BlobRef { Registry = _hostile.Host, Repository = Repository, Digest = blob.Digest.Value },
        });
        Assert.Equal(HttpStatusCode.OK, status);
        var earned = P2PProtocol.Parse<RegisterTaskResponse>(Encoding.UTF8.GetBytes(body), P2PProtocol.MaxResponseBytes);

        Assert.Equal(HttpStatusCode.Forbidden, await GetPieceAsync(holder, blob.Digest, earned.Token));
        Assert.Equal(HttpStatusCode.OK, await GetPieceAsync(holder, blob.Digest, scheduler.Scheduler.GetToken(_private.Host, blob.Digest)));
    }

    [Fact]
    public async Task Register_SizeMismatchOrRegistryError_ErrorNamesNoSizeAndNoUpstreamText()
    {
        var (cluster, scheduler, _, blob) = await StartHolderAsync(alsoTrusted: _hostile.Host);
        await using var owned = cluster;

        var (status, body) = await PostAsync(scheduler.Url, P2PProtocol.RegisterPath, new RegisterTaskRequest
        {
            Peer = Attacker(),
            Blob = new BlobRef { Registry = _private.Host, Repository = Repository, Digest = blob.Digest.Value, Size = 1 },
            Credential = new RegistryCredential { Username = Secrets[0], Password = Secrets[1] },
        });
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.DoesNotContain(blob.Size.ToString(CultureInfo.InvariantCulture), body, StringComparison.Ordinal);

        _hostile.Status = HttpStatusCode.InternalServerError;
        (status, body) = await PostAsync(scheduler.Url, P2PProtocol.RegisterPath, new RegisterTaskRequest
        {
            Peer = Attacker("mallory-2"),
            Blob = new BlobRef { Registry = _hostile.Host, Repository = Repository, Digest = blob.Digest.Value },
        });
        Assert.Equal(HttpStatusCode.BadGateway, status);
        Assert.DoesNotContain("500", body, StringComparison.Ordinal);
        Assert.DoesNotContain(_hostile.Host, body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ProxyBlob_SchedulerRefusesTheRegistry_ForbiddenNotServerError()
    {
        // A2 as well: a refusal on the P2P side is an authorisation answer (403), never a 500.
        await using var cluster = new P2PCluster();
        await cluster.StartSchedulerAsync();
        var peer = await cluster.StartPeerAsync("proxy-peer");
        var blob = _private.Put(Repository, P2PCluster.MakeContent(3000, 8));
        await using var proxy = await Accelerator.P2P.Proxy.RegistryMirrorProxy.StartAsync(
            new Accelerator.P2P.Proxy.RegistryMirrorProxyOptions { Listen = new Uri("http://127.0.0.1:0"), Upstream = _private.Host, PlainHttpUpstream = true },
            (registry, credential) => peer.CreateBlobSource(registry, credential));
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(proxy.Url, $"v2/{Repository}/blobs/{blob.Digest}"));
        request.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{Secrets[0]}:{Secrets[1]}")));

        using var response = await _http.SendAsync(request);

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.Contains("DENIED", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(0, _private.BytesServed);
    }

    // B5 ---------------------------------------------------------------------------------------------------------------

    [Fact]
    public async Task Heartbeat_AsAnotherKnownPeer_RefusedAndItsUrlKept()
    {
        var (cluster, scheduler, holder, blob) = await StartHolderAsync();
        await using var owned = cluster;
        var spoofed = Attacker(holder.PeerId) with { Url = "http://127.0.0.1:1/" };

        var (status, body) = await PostAsync(scheduler.Url, P2PProtocol.HeartbeatPath, new HeartbeatRequest { Peer = spoofed });

        Assert.Equal(HttpStatusCode.Unauthorized, status);
        Assert.DoesNotContain("token", body, StringComparison.OrdinalIgnoreCase);
        // A child is still sent to the holder's real URL.
        var child = await cluster.StartPeerAsync("child", configure: o => o.Registry.Hosts[_private.Host] = new() { PlainHttp = true, Username = Secrets[0], Password = Secrets[1] });
        Assert.Equal(blob.Digest, await P2PCluster.PullAsync(child, _private.Host, blob));
        Assert.True(child.GetStatistics().PiecesFromPeers > 0);
    }

    [Fact]
    public async Task PullAsync_NoCredential_PrivateBlobRefused()
    {
        var (cluster, _, _, blob) = await StartHolderAsync();
        await using var owned = cluster;
        var child = await cluster.StartPeerAsync("anonymous");

        await Assert.ThrowsAsync<UnauthorizedAccessException>(() => P2PCluster.PullAsync(child, _private.Host, blob));
    }

    [Fact]
    public async Task Leave_AsAnotherPeer_RefusedAndThePeerStaysKnown()
    {
        var (cluster, scheduler, holder, _) = await StartHolderAsync();
        await using var owned = cluster;

        var (status, _) = await PostAsync(scheduler.Url, P2PProtocol.LeavePath, new LeaveRequest { PeerId = holder.PeerId });

        Assert.Equal(HttpStatusCode.Unauthorized, status);
        Assert.True(scheduler.Scheduler.KnowsPeer(holder.PeerId));
    }

    [Fact]
    public async Task Report_CorruptAgainstAParentItWasNeverSentTo_ParentNotBanned()
    {
        var (cluster, scheduler, holder, blob) = await StartHolderAsync();
        await using var owned = cluster;
        // The attacker may read the blob (it has alice's credential), so it is a task member in its own name.
        var (status, body) = await PostAsync(scheduler.Url, P2PProtocol.RegisterPath, new RegisterTaskRequest
        {
            Peer = Attacker(),
            Blob = new BlobRef { Registry = _private.Host, Repository = Repository, Digest = blob.Digest.Value },
            Credential = new RegistryCredential { Username = Secrets[0], Password = Secrets[1] },
        });
        Assert.Equal(HttpStatusCode.OK, status);
        string secret = P2PProtocol.Parse<RegisterTaskResponse>(Encoding.UTF8.GetBytes(body), P2PProtocol.MaxResponseBytes).PeerSecret!;

        (status, _) = await PostAsync(scheduler.Url, P2PProtocol.TaskPath(blob.Digest, "reports"), new PieceReportRequest
        {
            PeerId = Attacker().PeerId,
            Results = [.. Enumerable.Range(0, 5).Select(i => new PieceResult { Index = i, ParentId = holder.PeerId, Failure = PieceFailure.Corrupt })],
        }, secret);

        Assert.Equal(HttpStatusCode.NoContent, status);
        Assert.False(scheduler.Scheduler.IsBanned(blob.Digest, holder.PeerId));
        Assert.Equal(0, scheduler.Scheduler.GetStatistics().CorruptPieces);
        Assert.Equal(5, scheduler.Scheduler.GetStatistics().ReportsIgnored);
    }

    [Fact]
    public async Task ReportAndComplete_AsAnotherPeer_RefusedAndTheTaskKept()
    {
        var (cluster, scheduler, holder, blob) = await StartHolderAsync();
        await using var owned = cluster;
        var child = await cluster.StartPeerAsync("child", configure: o => o.Registry.Hosts[_private.Host] = new() { PlainHttp = true, Username = Secrets[0], Password = Secrets[1] });
        Assert.Equal(blob.Digest, await P2PCluster.PullAsync(child, _private.Host, blob));

        var (report, _) = await PostAsync(scheduler.Url, P2PProtocol.TaskPath(blob.Digest, "reports"), new PieceReportRequest
        {
            PeerId = child.PeerId,
            Results = [new PieceResult { Index = 0, ParentId = holder.PeerId, Failure = PieceFailure.Corrupt }],
        });
        var (complete, _) = await PostAsync(scheduler.Url, P2PProtocol.TaskPath(blob.Digest, "complete"), new TaskCompleteRequest { PeerId = child.PeerId, Verified = false });

        Assert.Equal(HttpStatusCode.Unauthorized, report);
        Assert.Equal(HttpStatusCode.Unauthorized, complete);
        var stats = scheduler.Scheduler.GetStatistics();
        Assert.Equal(0, stats.TasksReset);
        Assert.Equal(0, stats.ParentsBanned);
        Assert.Equal(2, stats.PeerAuthFailures);
    }

    // B6 ---------------------------------------------------------------------------------------------------------------

    [Fact]
    public async Task Preheat_WithoutOperatorToken_RefusedBeforeTheRegistryIsAsked()
    {
        await using var cluster = new P2PCluster(_hostile.Host);
        var scheduler = await cluster.StartSchedulerAsync();

        var (status, _) = await PostAsync(scheduler.Url, P2PProtocol.PreheatPath, new PreheatRequest { Image = $"{_hostile.Host}/private/app:v1" });
        var (wrong, _) = await PostAsync(scheduler.Url, P2PProtocol.PreheatPath, new PreheatRequest { Image = $"{_hostile.Host}/private/app:v1" }, bearer: "not-the-operator-token");

        Assert.Equal(HttpStatusCode.Unauthorized, status);
        Assert.Equal(HttpStatusCode.Unauthorized, wrong);
        Assert.Equal(0, _hostile.Requests);
    }

    [Fact]
    public async Task Heartbeat_SeedWithoutOperatorToken_RefusedAndGetsNoBlobReferences()
    {
        await using var cluster = new P2PCluster(_private.Host);
        var scheduler = await cluster.StartSchedulerAsync();
        var blob = _private.Put(Repository, P2PCluster.MakeContent(1000, 4));
        // An honest seed is waiting for work; the operator queues a private blob for the seeds.
        var (seedStatus, _) = await PostAsync(scheduler.Url, P2PProtocol.HeartbeatPath, new HeartbeatRequest { Peer = Attacker("honest-seed", seed: true) }, bearer: P2PCluster.OperatorToken);
        Assert.Equal(HttpStatusCode.OK, seedStatus);
        Assert.Equal(1, scheduler.Scheduler.EnqueuePreheat([new BlobRef { Registry = _private.Host, Repository = Repository, Digest = blob.Digest.Value, Size = blob.Size }]));

        var (status, body) = await PostAsync(scheduler.Url, P2PProtocol.HeartbeatPath, new HeartbeatRequest { Peer = Attacker(seed: true) });

        Assert.Equal(HttpStatusCode.Forbidden, status);
        Assert.DoesNotContain(blob.Digest.Value, body, StringComparison.Ordinal);
        Assert.False(scheduler.Scheduler.KnowsPeer(Attacker().PeerId));
    }

    [Fact]
    public async Task Preheat_BlobOverTheSeedsBound_SkippedAndNothingDownloaded()
    {
        await using var cluster = new P2PCluster(_private.Host);
        var scheduler = await cluster.StartSchedulerAsync(o => o.Scheduler.HeartbeatInterval = TimeSpan.FromMilliseconds(50));
        var seed = await cluster.StartPeerAsync("seed", configure: o =>
        {
            o.Seed = true;
            o.HeartbeatInterval = TimeSpan.FromMilliseconds(50);
            o.MaxPreheatBlobBytes = 1000;
            o.Registry.Hosts[_private.Host] = new() { PlainHttp = true, Username = Secrets[0], Password = Secrets[1] };
        });
        var large = _private.Put(Repository, P2PCluster.MakeContent(1001, 5));
        var small = _private.Put(Repository, P2PCluster.MakeContent(1000, 6));

        Assert.Equal(1, scheduler.Scheduler.EnqueuePreheat(
        [
            new BlobRef { Registry = _private.Host, Repository = Repository, Digest = large.Digest.Value, Size = large.Size },
            new BlobRef { Registry = _private.Host, Repository = Repository, Digest = small.Digest.Value, Size = small.Size },
        ]));
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (seed.GetStatistics().BlobsPreheated < 1 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(20);
        }

        Assert.Equal(1, seed.GetStatistics().BlobsPreheated);
        Assert.Equal(1, seed.GetStatistics().PreheatsSkipped);
        Assert.Equal(small.Size, _private.BytesServed);
    }

    // B7 ---------------------------------------------------------------------------------------------------------------

    [Fact]
    public async Task Register_RegistryClaimsFourTebibytes_RefusedWithoutATaskAndWithoutTheSize()
    {
        await using var cluster = new P2PCluster(_hostile.Host);
        var scheduler = await cluster.StartSchedulerAsync(o => o.Scheduler.PieceSize = 4 * 1024 * 1024);
        _hostile.Size = 4L << 40;

        var (status, body) = await PostAsync(scheduler.Url, P2PProtocol.RegisterPath, new RegisterTaskRequest
        {
            Peer = Attacker(),
            Blob = new BlobRef { Registry = _hostile.Host, Repository = Repository, Digest = Digest.Compute("huge"u8).Value },
        });

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, status);
        Assert.DoesNotContain(_hostile.Size.ToString(CultureInfo.InvariantCulture), body, StringComparison.Ordinal);
        Assert.Equal(0, scheduler.Scheduler.GetStatistics().Tasks);
        Assert.Contains("accel_p2p_scheduler_blobs_too_large_total 1", scheduler.Service.FormatMetrics(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Register_OverTaskPeerAndRateLimits_RefusedWithClearErrorsAndCounted()
    {
        await using var cluster = new P2PCluster(_hostile.Host);
        var scheduler = await cluster.StartSchedulerAsync(o =>
        {
            o.Scheduler.MaxTasks = 2;
            o.Scheduler.MaxPeers = 2;
            o.Scheduler.MaxRegistrationsPerPeerPerMinute = 3;
        });
        _hostile.Size = 1000;
        string? secret = null;

        async Task<(HttpStatusCode, string)> RegisterAsync(string peer, int blob)
        {
            var answer = await PostAsync(scheduler.Url, P2PProtocol.RegisterPath, new RegisterTaskRequest
            {
                Peer = Attacker(peer),
                Blob = new BlobRef { Registry = _hostile.Host, Repository = Repository, Digest = Digest.Compute(Encoding.UTF8.GetBytes($"blob {blob}")).Value },
            }, peer == "a" ? secret : null);
            if (answer.Status == HttpStatusCode.OK && peer == "a")
            {
                secret ??= P2PProtocol.Parse<RegisterTaskResponse>(Encoding.UTF8.GetBytes(answer.Body), P2PProtocol.MaxResponseBytes).PeerSecret;
            }

            return answer;
        }

        Assert.Equal(HttpStatusCode.OK, (await RegisterAsync("a", 1)).Item1);
        Assert.Equal(HttpStatusCode.OK, (await RegisterAsync("a", 2)).Item1);
        var (tasks, tasksError) = await RegisterAsync("a", 3);
        var (rate, rateError) = await RegisterAsync("a", 1);
        Assert.Equal(HttpStatusCode.OK, (await RegisterAsync("b", 1)).Item1);
        var (peers, peersError) = await RegisterAsync("c", 1);

        Assert.Equal((HttpStatusCode.ServiceUnavailable, HttpStatusCode.TooManyRequests, HttpStatusCode.ServiceUnavailable), (tasks, rate, peers));
        Assert.Contains("tasks", tasksError, StringComparison.Ordinal);
        Assert.Contains("registers more often", rateError, StringComparison.Ordinal);
        Assert.Contains("peers", peersError, StringComparison.Ordinal);
        var stats = scheduler.Scheduler.GetStatistics();
        Assert.Equal((1, 1, 1), (stats.TasksRefused, stats.RegistrationsThrottled, stats.PeersRefused));
        Assert.Equal(2, stats.Tasks);
        Assert.Equal(2, stats.Peers);
    }

    [Fact]
    public void Options_Limits_Validated()
    {
        Assert.Throws<System.ComponentModel.DataAnnotations.ValidationException>(() => new P2PSchedulerOptions { MaxTasks = 0 }.Validate());
        Assert.Throws<System.ComponentModel.DataAnnotations.ValidationException>(() => new P2PSchedulerOptions { MaxPeers = 0 }.Validate());
        Assert.Throws<System.ComponentModel.DataAnnotations.ValidationException>(() => new P2PSchedulerOptions { MaxRegistrationsPerPeerPerMinute = 0 }.Validate());
        Assert.Throws<System.ComponentModel.DataAnnotations.ValidationException>(() => new P2PSchedulerOptions { PieceSize = 64 * 1024, MaxBlobBytes = 1L << 40 }.Validate());
        var server = new P2PSchedulerServerOptions();
        server.TrustedRegistries.Add("not a host/");
        Assert.Throws<System.ComponentModel.DataAnnotations.ValidationException>(server.Validate);
        Assert.Throws<System.ComponentModel.DataAnnotations.ValidationException>(new P2PSchedulerServerOptions { OperatorToken = "short" }.Validate);
    }

    /// <summary>A registry that answers every HEAD (and GET) with <see cref="Status"/> and a <c>Content-Length</c> of <see cref="Size"/>: it holds nothing.</summary>
    private sealed class HostileRegistry : IAsyncDisposable
    {
        private LoopbackHttpServer _server = null!;
        private int _requests;

        public string Host => _server.Host;

        public int Requests => Volatile.Read(ref _requests);

        public long Size { get; set; } = 1000;

        public HttpStatusCode Status { get; set; } = HttpStatusCode.OK;

        public static async Task<HostileRegistry> StartAsync()
        {
            var registry = new HostileRegistry();
            registry._server = await LoopbackHttpServer.StartAsync(context =>
            {
                Interlocked.Increment(ref registry._requests);
                context.Response.StatusCode = (int)registry.Status;
                context.Response.Headers["Docker-Distribution-API-Version"] = "registry/2.0";
                if (registry.Status != HttpStatusCode.OK)
                {
                    return context.Response.WriteAsync("hostile upstream text: internal detail");
                }

                context.Response.ContentLength = registry.Size;
                return Task.CompletedTask;
            });
            return registry;
        }

        public ValueTask DisposeAsync() => _server.DisposeAsync();
    }
}

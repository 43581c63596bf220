using System.Net;
using Accelerator.P2P.Peers;
using Accelerator.P2P.Protocol;
using Accelerator.P2P.Tests.Infrastructure;
using Microsoft.Extensions.Time.Testing;
using Xunit.Abstractions;

namespace Accelerator.P2P.Tests.Peers;

/// <summary>A scheduler and many peers in one process pulling the same blob from a counting registry.</summary>
public sealed class P2PSwarmTests(ITestOutputHelper output)
{
    private const string Repository = "swarm/blob";

    [Fact]
    public async Task OpenReadAsync_TwentyPeersAtOnce_RegistryServesTheBlobAboutOnce()
    {
        await using var registry = await CountingRegistry.StartAsync();
        await using var cluster = new P2PCluster(registry.Host);
        byte[] content = P2PCluster.MakeContent(4 * 1024 * 1024 + 4321, 1);
        var blob = registry.Put(Repository, content);
        await cluster.StartSchedulerAsync();
        var peers = new List<P2PPeer>();
        for (int i = 0; i < 20; i++)
        {
            peers.Add(await cluster.StartPeerAsync($"peer-{i}"));
        }

        var digests = await Task.WhenAll(peers.Select(p => P2PCluster.PullAsync(p, registry.Host, blob)));

        Assert.All(digests, d => Assert.Equal(blob.Digest, d));
        double ratio = (double)registry.BytesServed / content.Length;
        output.WriteLine($"registry bytes / blob size = {ratio:F3}; pieces from peers {peers.Sum(p => p.GetStatistics().PiecesFromPeers)}, from the registry {peers.Sum(p => p.GetStatistics().PiecesFromOrigin)}");
        Assert.True(ratio <= 1.05, $"the registry served {registry.BytesServed} bytes, {ratio:F3}x the blob");
        Assert.True(peers.Sum(p => p.GetStatistics().PiecesFromPeers) > 0);
        var stats = cluster.Schedulers[0].Scheduler.GetStatistics();
        Assert.Equal(20, stats.TasksCompleted);
    }

    [Fact]
    public async Task OpenReadAsync_ThreePeersKilledMidTransfer_RestFinishWithTheRightDigest()
    {
        await using var registry = await CountingRegistry.StartAsync();
        registry.GetDelay = TimeSpan.FromMilliseconds(15);
        await using var cluster = new P2PCluster(registry.Host);
        byte[] content = P2PCluster.MakeContent(4 * 1024 * 1024, 2);
        var blob = registry.Put(Repository, content);
        // Crashed peers' back-to-source leases are freed when the scheduler forgets them: a short TTL keeps the test short.
        var scheduler = await cluster.StartSchedulerAsync(o =>
        {
            o.Scheduler.HeartbeatInterval = TimeSpan.FromMilliseconds(500);
            o.Scheduler.PeerTtl = TimeSpan.FromSeconds(2);
        });
        var peers = new List<P2PPeer>();
        for (int i = 0; i < 10; i++)
        {
            peers.Add(await cluster.StartPeerAsync($"peer-{i}", configure: o => o.PieceTimeout = TimeSpan.FromSeconds(5)));
        }

        using var killed = new CancellationTokenSource();
        var pulls = peers.Select((p, i) => P2PCluster.PullAsync(p, registry.Host, blob, i < 3 ? killed.Token : default)).ToList();
        // Wait until the swarm is well into the transfer, then crash three peers (no leave message).
        while (scheduler.Scheduler.GetStatistics().PieceSuccesses < 60)
        {
            await Task.Delay(5);
        }

        await killed.CancelAsync();
        foreach (var peer in peers.Take(3))
        {
            await peer.KillAsync();
        }

        foreach (var pull in pulls.Take(3))
        {
            await Assert.ThrowsAnyAsync<Exception>(() => pull);
        }

        var digests = await Task.WhenAll(pulls.Skip(3));
        Assert.All(digests, d => Assert.Equal(blob.Digest, d));
    }

    [Fact]
    public async Task OpenReadAsync_LyingParent_DetectedBannedAndRefetchedFromAnHonestOne()
    {
        await using var registry = await CountingRegistry.StartAsync();
        await using var cluster = new P2PCluster(registry.Host);
        byte[] content = P2PCluster.MakeContent(1024 * 1024, 3);
        var blob = registry.Put(Repository, content);
        var scheduler = await cluster.StartSchedulerAsync();
        var honest = await cluster.StartPeerAsync("honest", configure: o => o.UploadSlots = 1);
        Assert.Equal(blob.Digest, await P2PCluster.PullAsync(honest, registry.Host, blob));

        await using var liar = await LyingPeer.StartAsync(scheduler.Url, registry.Host, blob);
        var child = await cluster.StartPeerAsync("child");
        Assert.Equal(blob.Digest, await P2PCluster.PullAsync(child, registry.Host, blob));

        Assert.True(liar.PiecesServed > 0, "the liar was never asked");
        Assert.True(child.GetStatistics().CorruptPieces > 0);
        Assert.True(scheduler.Scheduler.IsBanned(blob.Digest, LyingPeer.Id));
        Assert.Equal(content.Length, registry.BytesServed);
    }

    [Fact]
    public async Task OpenReadAsync_LyingBackToSourcePeer_CaughtByTheBlobDigestBannedAndRefetched()
    {
        await using var registry = await CountingRegistry.StartAsync();
        await using var cluster = new P2PCluster(registry.Host);
        byte[] content = P2PCluster.MakeContent(6 * P2PCluster.TestPieceSize, 14);
        var blob = registry.Put(Repository, content);
        var scheduler = await cluster.StartSchedulerAsync();
        await using var liar = await LyingPeer.StartAsSourceAsync(scheduler.Url, registry.Host, blob);
        var children = new List<P2PPeer>();
        for (int i = 0; i < 3; i++)
        {
            children.Add(await cluster.StartPeerAsync($"child-{i}"));
        }

        // A read streams pieces as they arrive, so a reader whose pieces do not form the blob gets an error at the end (never
        // a complete wrong blob); the task is reset with the liar banned, and reading again gets the right blob.
        // (Children that took pieces from each other before the ban may each need a read of their own to drop them.)
        var digests = await Task.WhenAll(children.Select(async c =>
        {
            for (int attempt = 1; ; attempt++)
            {
                try
                {
                    return await P2PCluster.PullAsync(c, registry.Host, blob);
                }
                catch (DigestMismatchException) when (attempt < 3)
                {
                }
            }
        }));

        Assert.All(digests, d => Assert.Equal(blob.Digest, d));
        Assert.True(liar.PiecesServed > 0);
        Assert.True(scheduler.Scheduler.IsBanned(blob.Digest, LyingPeer.Id));
        Assert.True(children.Sum(c => c.GetStatistics().BlobsCorrupt) > 0);
        Assert.True(scheduler.Scheduler.GetStatistics().TasksReset > 0);
    }

    [Fact]
    public async Task PieceApi_WithoutTheTaskToken_ServesNothing()
    {
        await using var registry = await CountingRegistry.StartAsync();
        await using var cluster = new P2PCluster(registry.Host);
        var blob = registry.Put(Repository, P2PCluster.MakeContent(200_000, 4));
        var other = registry.Put(Repository, P2PCluster.MakeContent(1000, 5));
        var scheduler = await cluster.StartSchedulerAsync();
        var holder = await cluster.StartPeerAsync("holder");
        await P2PCluster.PullAsync(holder, registry.Host, blob);
        await P2PCluster.PullAsync(holder, registry.Host, other);
        using var http = new HttpClient();
        var piece = new Uri(holder.Url, P2PProtocol.PiecePath(blob.Digest, 0));

        async Task<HttpStatusCode> GetAsync(string? token)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, piece);
            if (token is not null)
            {
                request.Headers.Add(P2PProtocol.TokenHeader, token);
            }

            using var response = await http.SendAsync(request);
            return response.StatusCode;
        }

        Assert.Equal(HttpStatusCode.Forbidden, await GetAsync(null));
        Assert.Equal(HttpStatusCode.Forbidden, await GetAsync("not-a-token"));
        Assert.Equal(HttpStatusCode.Forbidden, await GetAsync(scheduler.Scheduler.GetToken(registry.Host, other.Digest)));
        Assert.Equal(HttpStatusCode.OK, await GetAsync(scheduler.Scheduler.GetToken(registry.Host, blob.Digest)));
        Assert.Equal(3, holder.GetStatistics().UploadsForbidden);
    }

    [Fact]
    public async Task PieceApi_TokenExpired_ForbiddenAndRenewedTokenServed()
    {
        await using var registry = await CountingRegistry.StartAsync();
        await using var cluster = new P2PCluster(registry.Host);
        var blob = registry.Put(Repository, P2PCluster.MakeContent(200_000, 6));
        // One fake clock for the scheduler and the holder; it starts on a token epoch boundary (30 min epochs).
        var time = new FakeTimeProvider();
        var scheduler = await cluster.StartSchedulerAsync(o =>
        {
            o.Scheduler.TokenLifetime = TimeSpan.FromHours(1);
            o.Scheduler.PeerTtl = TimeSpan.FromHours(1);
        }, time);
        var holder = await cluster.StartPeerAsync("holder", configure: o => o.HeartbeatInterval = TimeSpan.FromSeconds(1), time: time);
        await P2PCluster.PullAsync(holder, registry.Host, blob);
        using var http = new HttpClient();
        var piece = new Uri(holder.Url, P2PProtocol.PiecePath(blob.Digest, 0));

        async Task<HttpStatusCode> GetAsync(string token)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, piece);
            request.Headers.Add(P2PProtocol.TokenHeader, token);
            using var response = await http.SendAsync(request);
            return response.StatusCode;
        }

        string first = scheduler.Scheduler.GetToken(registry.Host, blob.Digest);
        Assert.Equal(HttpStatusCode.OK, await GetAsync(first));

        // The next epoch: the holder's heartbeat brings it the new token; the old one still opens pieces until it expires.
        time.Advance(TimeSpan.FromMinutes(31));
        string second = scheduler.Scheduler.GetToken(registry.Host, blob.Digest);
        Assert.NotEqual(first, second);
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (await GetAsync(second) != HttpStatusCode.OK)
        {
            Assert.True(DateTime.UtcNow < deadline, "the holder never received the renewed token");
            await Task.Delay(50);
        }

        Assert.Equal(HttpStatusCode.OK, await GetAsync(first));

        time.Advance(TimeSpan.FromMinutes(30));
        Assert.Equal(HttpStatusCode.Forbidden, await GetAsync(first));
        Assert.True(holder.GetStatistics().UploadsForbidden >= 1);
        Assert.True(scheduler.Scheduler.GetStatistics().TokensRenewed >= 1);
        Assert.Matches(@"(?m)^accel_p2p_scheduler_tokens_renewed_total [1-9]", scheduler.Service.FormatMetrics());
    }

    [Fact]
    public async Task PieceStore_PiecesEvicted_AnnouncedAndNoChildSentForThem()
    {
        await using var registry = await CountingRegistry.StartAsync();
        await using var cluster = new P2PCluster(registry.Host);
        var first = registry.Put(Repository, P2PCluster.MakeContent(4 * P2PCluster.TestPieceSize, 7));
        var second = registry.Put(Repository, P2PCluster.MakeContent(4 * P2PCluster.TestPieceSize, 8));
        var scheduler = await cluster.StartSchedulerAsync();
        // Room for five pieces: reading the second blob evicts pieces of the first.
        var holder = await cluster.StartPeerAsync("holder", configure: o =>
        {
            o.CapacityBytes = 5 * P2PCluster.TestPieceSize;
            o.MemoryCacheBytes = 0;
            o.HeartbeatInterval = TimeSpan.FromMilliseconds(100);
        });
        await P2PCluster.PullAsync(holder, registry.Host, first);
        await P2PCluster.PullAsync(holder, registry.Host, second);
        long evicted = holder.GetStatistics().PiecesEvicted;
        Assert.InRange(evicted, 3, 4);

        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (scheduler.Scheduler.GetStatistics().PiecesEvicted < evicted)
        {
            Assert.True(DateTime.UtcNow < deadline, "the evictions were never announced");
            await Task.Delay(50);
        }

        Assert.Equal(evicted, holder.GetStatistics().EvictionsAnnounced);

        // A second peer reads the first blob: it is sent to the holder only for the piece it still has, so no 404 at all.
        var child = await cluster.StartPeerAsync("child");
        Assert.Equal(first.Digest, await P2PCluster.PullAsync(child, registry.Host, first));
        Assert.Equal(0, child.GetStatistics().ParentFailures);
        Assert.False(scheduler.Scheduler.IsBanned(first.Digest, "holder"));
        Assert.Equal(4 - evicted, child.GetStatistics().PiecesFromPeers);
    }

    [Fact]
    public async Task PieceApi_EveryUploadSlotBusy_AnswersServiceUnavailable()
    {
        await using var registry = await CountingRegistry.StartAsync();
        await using var cluster = new P2PCluster(registry.Host);
        var blob = registry.Put(Repository, P2PCluster.MakeContent(3 * P2PCluster.TestPieceSize, 12));
        var scheduler = await cluster.StartSchedulerAsync();
        // One slot, shaped so that the second piece waits a second for its bytes while holding the slot.
        var holder = await cluster.StartPeerAsync("holder", configure: o =>
        {
            o.UploadSlots = 1;
            o.UploadBytesPerSecond = P2PCluster.TestPieceSize;
        });
        await P2PCluster.PullAsync(holder, registry.Host, blob);
        using var http = new HttpClient();

        async Task<HttpStatusCode> GetAsync(int index)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(holder.Url, P2PProtocol.PiecePath(blob.Digest, index)));
            request.Headers.Add(P2PProtocol.TokenHeader, scheduler.Scheduler.GetToken(registry.Host, blob.Digest));
            using var response = await http.SendAsync(request);
            await response.Content.ReadAsByteArrayAsync();
            return response.StatusCode;
        }

        Assert.Equal(HttpStatusCode.OK, await GetAsync(0));
        var second = GetAsync(1);
        await Task.Delay(200);
        var third = GetAsync(2);

        // Whichever got the slot is served; the other is told to come back.
        Assert.Equal([HttpStatusCode.OK, HttpStatusCode.ServiceUnavailable], (await Task.WhenAll(second, third)).Order());
        Assert.Equal(1, holder.GetStatistics().UploadsBusy);
    }

    [Fact]
    public async Task Register_PeerTheRegistryRefuses_GetsNoTokenAndNoBytes()
    {
        await using var registry = await CountingRegistry.StartAsync(new Dictionary<string, string> { ["alice"] = "secret" });
        await using var cluster = new P2PCluster(registry.Host);
        var blob = registry.Put(Repository, P2PCluster.MakeContent(300_000, 6));
        var scheduler = await cluster.StartSchedulerAsync();
        var alice = await cluster.StartPeerAsync("alice", configure: o => o.Registry.Hosts[registry.Host] = new() { PlainHttp = true, Username = "alice", Password = "secret" });
        var mallory = await cluster.StartPeerAsync("mallory");

        Assert.Equal(blob.Digest, await P2PCluster.PullAsync(alice, registry.Host, blob));

        var guessing = mallory.CreateBlobSource(registry.Host, new RegistryCredential { Username = "alice", Password = "guess" });
        await Assert.ThrowsAsync<UnauthorizedAccessException>(() => guessing.OpenReadAsync(blob));
        await Assert.ThrowsAsync<UnauthorizedAccessException>(() => mallory.CreateBlobSource(registry.Host).OpenRangeAsync(blob, 0, 10));
        Assert.Equal(0, mallory.GetStatistics().BytesFromPeers);
        Assert.Equal(0, alice.GetStatistics().PiecesUploaded);
    }

    [Fact]
    public async Task Register_ForwardedAuthorizationHeader_CheckedAsIsAtTheRegistry()
    {
        await using var registry = await CountingRegistry.StartAsync();
        registry.BearerToken = "issued-by-the-token-server";
        await using var cluster = new P2PCluster(registry.Host);
        var blob = registry.Put(Repository, P2PCluster.MakeContent(100_000, 13));
        await cluster.StartSchedulerAsync();
        var peer = await cluster.StartPeerAsync("proxy-like", configure: o => o.Registry.Hosts[registry.Host] = new()
        {
            PlainHttp = true,
            Headers = { ["Authorization"] = ["Bearer issued-by-the-token-server"] },
        });

        var allowed = peer.CreateBlobSource(registry.Host, new RegistryCredential { Authorization = "Bearer issued-by-the-token-server" });
        await using (var stream = await allowed.OpenReadAsync(blob))
        {
            Assert.Equal(blob.Digest, await Digest.ComputeAsync(stream));
        }

        var stale = peer.CreateBlobSource(registry.Host, new RegistryCredential { Authorization = "Bearer expired" });
        // The peer holds the blob now, but a client whose credential the registry refuses still gets nothing from it.
        await Assert.ThrowsAsync<UnauthorizedAccessException>(() => stale.OpenReadAsync(blob));
        await Assert.ThrowsAsync<UnauthorizedAccessException>(() => stale.OpenRangeAsync(blob, 0, 100));
        await Assert.ThrowsAsync<UnauthorizedAccessException>(() => peer.CreateBlobSource(registry.Host, null).OpenReadAsync(blob));
    }

    [Fact]
    public async Task OpenReadAsync_OwningSchedulerKilled_TaskMovesToTheNextOnTheRing()
    {
        await using var registry = await CountingRegistry.StartAsync();
        registry.GetDelay = TimeSpan.FromMilliseconds(10);
        await using var cluster = new P2PCluster(registry.Host);
        byte[] content = P2PCluster.MakeContent(2 * 1024 * 1024, 7);
        var blob = registry.Put(Repository, content);
        var a = await cluster.StartSchedulerAsync();
        var b = await cluster.StartSchedulerAsync();
        var owner = new SchedulerRing([a.Url, b.Url]).GetOrder(blob.Digest.Value)[0] == a.Url ? a : b;
        var peers = new List<P2PPeer>();
        for (int i = 0; i < 5; i++)
        {
            peers.Add(await cluster.StartPeerAsync($"peer-{i}", configure: o => o.SchedulerTimeout = TimeSpan.FromSeconds(1)));
        }

        var pulls = peers.Select(p => P2PCluster.PullAsync(p, registry.Host, blob)).ToList();
        while (owner.Scheduler.GetStatistics().PieceSuccesses < 10)
        {
            await Task.Delay(5);
        }

        await owner.DisposeAsync();
        var digests = await Task.WhenAll(pulls);

        Assert.All(digests, d => Assert.Equal(blob.Digest, d));
        Assert.True(peers.Sum(p => p.GetStatistics().SchedulerFailovers) > 0);
        Assert.Equal(0, peers.Sum(p => p.GetStatistics().OriginFallbacks));
        var survivor = owner == a ? b : a;
        Assert.True(survivor.Scheduler.GetStatistics().TasksCompleted > 0);
    }

    [Fact]
    public async Task OpenReadAsync_NoSchedulerReachable_ReadsStraightFromTheRegistry()
    {
        await using var registry = await CountingRegistry.StartAsync();
        await using var cluster = new P2PCluster(registry.Host);
        byte[] content = P2PCluster.MakeContent(150_000, 8);
        var blob = registry.Put(Repository, content);
        var closed = await cluster.StartSchedulerAsync();
        var url = closed.Url;
        await closed.DisposeAsync();
        var peer = await cluster.StartPeerAsync("lonely", [url]);

        Assert.Equal(blob.Digest, await P2PCluster.PullAsync(peer, registry.Host, blob));
        byte[] range = new byte[100];
        Assert.Equal(100, await peer.CreateBlobSource(registry.Host).ReadRangeAsync(blob, 1000, range));
        Assert.Equal(content.AsSpan(1000, 100).ToArray(), range);
        Assert.Equal(2, peer.GetStatistics().OriginFallbacks);
        Assert.Contains("accel_p2p_peer_origin_fallbacks_total 2", peer.FormatMetrics(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task OpenRangeAsync_SmallRange_FetchesOnlyTheCoveringPieces()
    {
        await using var registry = await CountingRegistry.StartAsync();
        await using var cluster = new P2PCluster(registry.Host);
        byte[] content = P2PCluster.MakeContent(1024 * 1024, 9);
        var blob = registry.Put(Repository, content);
        await cluster.StartSchedulerAsync();
        var first = await cluster.StartPeerAsync("first");
        var second = await cluster.StartPeerAsync("second");
        long offset = (3 * P2PCluster.TestPieceSize) - 50;
        byte[] buffer = new byte[100];

        Assert.Equal(100, await first.CreateBlobSource(registry.Host).ReadRangeAsync(blob, offset, buffer));
        Assert.Equal(content.AsSpan((int)offset, 100).ToArray(), buffer);
        Assert.Equal(2 * P2PCluster.TestPieceSize, registry.BytesServed);

        Assert.Equal(100, await second.CreateBlobSource(registry.Host).ReadRangeAsync(blob, offset, buffer));
        Assert.Equal(content.AsSpan((int)offset, 100).ToArray(), buffer);
        Assert.Equal(2 * P2PCluster.TestPieceSize, registry.BytesServed);
        Assert.Equal(2, second.GetStatistics().PiecesFromPeers);
    }

    [Fact]
    public async Task OpenReadAsync_AfterRestart_ServesFromTheStoreAndAnnouncesPieces()
    {
        await using var registry = await CountingRegistry.StartAsync();
        await using var cluster = new P2PCluster(registry.Host);
        byte[] content = P2PCluster.MakeContent(500_000, 10);
        var blob = registry.Put(Repository, content);
        var scheduler = await cluster.StartSchedulerAsync();
        string dataDir = Path.Combine(cluster.Root, "restarting");
        var options = new P2PPeerOptions { PeerId = "restarting", DataDirectory = dataDir, Registry = new() { PlainHttp = true } };
        options.Schedulers.Add(scheduler.Url);
        await using (var before = await P2PPeer.StartAsync(options))
        {
            Assert.Equal(blob.Digest, await P2PCluster.PullAsync(before, registry.Host, blob));
        }

        long served = registry.BytesServed;
        await using var after = await P2PPeer.StartAsync(options);
        Assert.Equal(blob.Digest, await P2PCluster.PullAsync(after, registry.Host, blob));
        Assert.Equal(served, registry.BytesServed);

        // The restarted peer announced its pieces: a newcomer gets them from it, not from the registry.
        var newcomer = await cluster.StartPeerAsync("newcomer");
        Assert.Equal(blob.Digest, await P2PCluster.PullAsync(newcomer, registry.Host, blob));
        Assert.Equal(served, registry.BytesServed);
    }

    [Fact]
    public async Task Preheat_SeedPeer_FetchesTheBlobsBeforeAnyoneAsks()
    {
        await using var registry = await CountingRegistry.StartAsync();
        await using var cluster = new P2PCluster(registry.Host);
        byte[] content = P2PCluster.MakeContent(300_000, 11);
        var blob = registry.Put(Repository, content);
        var scheduler = await cluster.StartSchedulerAsync(o => o.Scheduler.HeartbeatInterval = TimeSpan.FromMilliseconds(50));
        var seed = await cluster.StartPeerAsync("seed", configure: o =>
        {
            o.Seed = true;
            o.HeartbeatInterval = TimeSpan.FromMilliseconds(50);
        });

        int seeds = scheduler.Scheduler.EnqueuePreheat([new BlobRef { Registry = registry.Host, Repository = Repository, Digest = blob.Digest.Value, Size = blob.Size }]);
        Assert.Equal(1, seeds);
        while (seed.GetStatistics().BlobsPreheated == 0)
        {
            await Task.Delay(10);
        }

        var peer = await cluster.StartPeerAsync("late");
        Assert.Equal(blob.Digest, await P2PCluster.PullAsync(peer, registry.Host, blob));
        Assert.Equal(content.Length, registry.BytesServed);
        Assert.Equal(0, peer.GetStatistics().PiecesFromOrigin);
    }
}

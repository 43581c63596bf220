using System.ComponentModel.DataAnnotations;
using System.Diagnostics.Metrics;
using System.Net;
using Accelerator.P2P.Peers;
using Accelerator.P2P.Protocol;
using Accelerator.P2P.Proxy;
using Accelerator.P2P.Tests.Infrastructure;

namespace Accelerator.P2P.Tests.Peers;

public sealed class P2PPeerTests
{
    [Fact]
    public void Options_Invalid_Refused()
    {
        P2PPeerOptions Valid() => new() { DataDirectory = "/tmp/x" };
        Assert.Throws<ValidationException>(() => new P2PPeerOptions().Validate());
        Assert.Throws<ValidationException>(PeerIdOf(Valid(), "bad id").Validate);
        var https = Valid();
        https.Listen = new Uri("https://127.0.0.1:0");
        Assert.Throws<ValidationException>(https.Validate);
        var scheduler = Valid();
        scheduler.Schedulers.Add(new Uri("ftp://scheduler"));
        Assert.Throws<ValidationException>(scheduler.Validate);
        var slots = Valid();
        slots.UploadSlots = 0;
        Assert.Throws<ValidationException>(slots.Validate);
        Valid().Validate();
    }

    private static P2PPeerOptions PeerIdOf(P2PPeerOptions options, string id)
    {
        options.PeerId = id;
        return options;
    }

    [Fact]
    public async Task Metrics_PrometheusAndMeter_ReportTheSameBytes()
    {
        await using var registry = await CountingRegistry.StartAsync();
        await using var cluster = new P2PCluster(registry.Host);
        var blob = registry.Put("m/blob", P2PCluster.MakeContent(200_000, 1));
        await cluster.StartSchedulerAsync();
        var peer = await cluster.StartPeerAsync("measured");
        await P2PCluster.PullAsync(peer, registry.Host, blob);

        long fromMeter = -1;
        using (var listener = new MeterListener())
        {
            listener.InstrumentPublished = (instrument, l) =>
            {
                if (instrument.Meter.Name == P2PMeter.Name && instrument.Name == "accelerator.p2p.peer.bytes_from_origin")
                {
                    l.EnableMeasurementEvents(instrument);
                }
            };
            listener.SetMeasurementEventCallback<long>((_, value, tags, _) =>
            {
                foreach (var tag in tags)
                {
                    if (tag.Key == "peer" && (string?)tag.Value == "measured")
                    {
                        fromMeter = value;
                    }
                }
            });
            listener.Start();
            listener.RecordObservableInstruments();
        }

        Assert.Equal(200_000, fromMeter);
        using var http = new HttpClient();
        string text = await http.GetStringAsync(new Uri(peer.Url, "/metrics"));
        Assert.Contains("accel_p2p_peer_bytes_from_origin_total 200000\n", text, StringComparison.Ordinal);
        Assert.Contains("accel_p2p_peer_blobs_completed_total 1\n", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task PieceApi_BadPathsAndMethods_Refused()
    {
        await using var cluster = new P2PCluster();
        var peer = await cluster.StartPeerAsync("alone", []);
        using var http = new HttpClient();

        using var post = await http.PostAsync(new Uri(peer.Url, P2PProtocol.PiecePath(Digest.Compute("x"u8), 0)), new ByteArrayContent([]));
        using var unknown = await http.GetAsync(new Uri(peer.Url, "/p2p/v1/tasks/sha256:zz/pieces/0"));
        using var notHeld = await http.GetAsync(new Uri(peer.Url, P2PProtocol.PiecePath(Digest.Compute("x"u8), 0)));

        Assert.Equal(HttpStatusCode.MethodNotAllowed, post.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, notHeld.StatusCode);
        Assert.Equal("ok\n", await http.GetStringAsync(new Uri(peer.Url, "/healthz")));
    }

    [Fact]
    public async Task OpenReadAsync_NoSchedulersConfigured_ReadsFromTheRegistry()
    {
        await using var registry = await CountingRegistry.StartAsync();
        await using var cluster = new P2PCluster(registry.Host);
        var blob = registry.Put("m/blob", P2PCluster.MakeContent(70_000, 2));
        var peer = await cluster.StartPeerAsync("standalone", []);

        Assert.Equal(blob.Digest, await P2PCluster.PullAsync(peer, registry.Host, blob));
        Assert.Equal(70_000, registry.BytesServed);
    }

    [Fact]
    public async Task OpenReadAsync_RegistryFailsEveryRead_OneClearErrorNotALoop()
    {
        await using var registry = await CountingRegistry.StartAsync();
        registry.FailGets = true;
        await using var cluster = new P2PCluster(registry.Host);
        var blob = registry.Put("m/blob", P2PCluster.MakeContent(70_000, 3));
        await cluster.StartSchedulerAsync();
        var peer = await cluster.StartPeerAsync("unlucky");

        var ex = await Assert.ThrowsAsync<IOException>(() => P2PCluster.PullAsync(peer, registry.Host, blob));
        Assert.Contains("failed to serve piece", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task OpenRangeAsync_CancelledMidway_LeasesReleasedSoTheNextReadProceeds()
    {
        await using var registry = await CountingRegistry.StartAsync();
        registry.GetDelay = TimeSpan.FromSeconds(30);
        await using var cluster = new P2PCluster(registry.Host);
        byte[] content = P2PCluster.MakeContent(300_000, 4);
        var blob = registry.Put("m/blob", content);
        // Leases that would outlive the test: only the peer's report of the cancelled fetches frees the pieces.
        await cluster.StartSchedulerAsync(o =>
        {
            o.Scheduler.SourceLeaseTimeout = TimeSpan.FromHours(1);
            o.Scheduler.PieceLeaseTimeout = TimeSpan.FromHours(1);
        });
        var peer = await cluster.StartPeerAsync("impatient");
        var source = peer.CreateBlobSource(registry.Host);

        using (var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(300)))
        {
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => source.ReadRangeAsync(blob, 1000, new byte[100], cancel.Token).AsTask());
        }

        registry.GetDelay = TimeSpan.Zero;
        byte[] buffer = new byte[100];
        using var guard = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        Assert.Equal(100, await source.ReadRangeAsync(blob, 1000, buffer, guard.Token));
        Assert.Equal(content.AsSpan(1000, 100).ToArray(), buffer);
    }

    [Fact]
    public async Task OpenRangeAsync_PieceEvicted_FetchedAgainOnTheNextRead()
    {
        await using var registry = await CountingRegistry.StartAsync();
        await using var cluster = new P2PCluster(registry.Host);
        const int Piece = P2PCluster.TestPieceSize;
        byte[] content = P2PCluster.MakeContent(5 * Piece, 5);
        var blob = registry.Put("m/blob", content);
        await cluster.StartSchedulerAsync();
        var peer = await cluster.StartPeerAsync("small", configure: o => o.CapacityBytes = 2 * Piece);
        var source = peer.CreateBlobSource(registry.Host);
        byte[] buffer = new byte[10];

        foreach (int piece in new[] { 0, 1, 2, 0 })
        {
            Assert.Equal(10, await source.ReadRangeAsync(blob, (piece * Piece) + 7, buffer));
            Assert.Equal(content.AsSpan((piece * Piece) + 7, 10).ToArray(), buffer);
        }

        Assert.Equal(4 * Piece, registry.BytesServed);
        Assert.Equal(2, peer.GetStatistics().PiecesEvicted);
        Assert.Equal(2 * Piece, peer.GetStatistics().StoredBytes);
    }

    [Fact]
    public async Task PieceApi_PiecesInMemoryCache_ServedWithoutTheDiskAndStillRight()
    {
        await using var registry = await CountingRegistry.StartAsync();
        await using var cluster = new P2PCluster(registry.Host);
        byte[] content = P2PCluster.MakeContent((3 * P2PCluster.TestPieceSize) + 1000, 6);
        var blob = registry.Put("m/blob", content);
        await cluster.StartSchedulerAsync();
        var parent = await cluster.StartPeerAsync("parent");
        Assert.Equal(blob.Digest, await P2PCluster.PullAsync(parent, registry.Host, blob));
        // The verified copies in memory answer; the disk's (now wrong) bytes are never read.
        CorruptStoredPieces(cluster, "parent");
        var child = await cluster.StartPeerAsync("child");

        Assert.Equal(blob.Digest, await P2PCluster.PullAsync(child, registry.Host, blob));
        Assert.Equal(content.Length, registry.BytesServed);
        Assert.Equal(4, child.GetStatistics().PiecesFromPeers);
        Assert.Equal(0, child.GetStatistics().CorruptPieces);
        Assert.True(parent.GetStatistics().PieceMemoryHits >= 4);
    }

    [Fact]
    public async Task PieceApi_PiecesCorruptedOnDiskWithoutMemoryCache_NeverServed()
    {
        await using var registry = await CountingRegistry.StartAsync();
        await using var cluster = new P2PCluster(registry.Host);
        byte[] content = P2PCluster.MakeContent((3 * P2PCluster.TestPieceSize) + 1000, 7);
        var blob = registry.Put("m/blob", content);
        await cluster.StartSchedulerAsync();
        var parent = await cluster.StartPeerAsync("parent", configure: o => o.MemoryCacheBytes = 0);
        Assert.Equal(blob.Digest, await P2PCluster.PullAsync(parent, registry.Host, blob));
        CorruptStoredPieces(cluster, "parent");
        var child = await cluster.StartPeerAsync("child");

        Assert.Equal(blob.Digest, await P2PCluster.PullAsync(child, registry.Host, blob));
        Assert.Equal(0, parent.GetStatistics().BytesUploaded);
        Assert.Equal(0, parent.GetStatistics().PieceMemoryHits);
        Assert.Equal(0, child.GetStatistics().CorruptPieces);
        Assert.Equal(0, child.GetStatistics().BytesFromPeers);
        Assert.True(child.GetStatistics().ParentFailures > 0); // the parent was asked, and refused
    }

    [Fact]
    public async Task OpenReadAsync_OwnPiecesCorruptedAtRest_DroppedAndFetchedAgain()
    {
        await using var registry = await CountingRegistry.StartAsync();
        await using var cluster = new P2PCluster(registry.Host);
        byte[] content = P2PCluster.MakeContent((4 * P2PCluster.TestPieceSize) + 100, 8);
        var blob = registry.Put("m/blob", content);
        await cluster.StartSchedulerAsync();
        var peer = await cluster.StartPeerAsync("alone", configure: o => o.MemoryCacheBytes = 0);
        Assert.Equal(blob.Digest, await P2PCluster.PullAsync(peer, registry.Host, blob));
        CorruptStoredPieces(cluster, "alone");

        // Every piece fails the check recorded when it was stored: dropped, fetched again, and the blob is right.
        Assert.Equal(blob.Digest, await P2PCluster.PullAsync(peer, registry.Host, blob));
        Assert.Equal(2L * content.Length, registry.BytesServed);
        Assert.Equal(2, peer.GetStatistics().BlobsCompleted);
        Assert.Equal(0, peer.GetStatistics().BlobsCorrupt);
    }

    [Fact]
    public async Task OpenReadAsync_RegistryCorruptsALaterPiece_ReadFailsBeforeTheLastByte()
    {
        await using var registry = await CountingRegistry.StartAsync();
        await using var cluster = new P2PCluster(registry.Host);
        byte[] content = P2PCluster.MakeContent(6 * P2PCluster.TestPieceSize, 9);
        var blob = registry.Put("m/blob", content);
        registry.CorruptOffset = (5 * P2PCluster.TestPieceSize) + 17;
        await cluster.StartSchedulerAsync();
        var peer = await cluster.StartPeerAsync("reader");
        await using var stream = await peer.CreateBlobSource(registry.Host).OpenReadAsync(blob);
        byte[] buffer = new byte[8192];
        long yielded = 0;

        // The pieces stream as they arrive; the one whose recorded digest came from corrupt bytes makes the blob digest
        // fail, and that is known before the last piece is handed out.
        var ex = await Assert.ThrowsAsync<DigestMismatchException>(async () =>
        {
            int n;
            while ((n = await stream.ReadAsync(buffer)) > 0)
            {
                yielded += n;
            }
        });

        Assert.Equal(blob.Digest, ex.Expected);
        Assert.True(yielded <= 5 * P2PCluster.TestPieceSize, $"{yielded} bytes yielded");
        Assert.Equal(1, peer.GetStatistics().BlobsCorrupt);
        Assert.Empty(Directory.EnumerateFiles(Path.Combine(cluster.Root, "reader", "pieces"), "*", SearchOption.AllDirectories));
    }

    [Fact]
    public async Task Proxy_BlobWhoseLaterPieceIsCorrupt_ClientGetsAnErrorNotAWrongBlob()
    {
        await using var registry = await CountingRegistry.StartAsync();
        await using var cluster = new P2PCluster(registry.Host);
        byte[] content = P2PCluster.MakeContent(8 * P2PCluster.TestPieceSize, 10);
        var blob = registry.Put("m/blob", content);
        registry.CorruptOffset = (7 * P2PCluster.TestPieceSize) + 3;
        await cluster.StartSchedulerAsync();
        var peer = await cluster.StartPeerAsync("proxied");
        await using var proxy = await RegistryMirrorProxy.StartAsync(
            new RegistryMirrorProxyOptions { Listen = new Uri("http://127.0.0.1:0"), Upstream = registry.Host, PlainHttpUpstream = true },
            host => peer.CreateBlobSource(host));
        using var http = new HttpClient();
        var url = new Uri(proxy.Url, $"v2/m/blob/blobs/{blob.Digest}");

        // Streamed while the pieces arrive: the client either gets an error status or a cut connection, never all the bytes.
        byte[]? body = null;
        HttpStatusCode? status = null;
        try
        {
            using var response = await http.GetAsync(url);
            status = response.StatusCode;
            body = await response.Content.ReadAsByteArrayAsync();
        }
        catch (HttpRequestException)
        {
        }

        Assert.False(status == HttpStatusCode.OK && body is not null && body.Length == content.Length, "the client received a whole wrong blob");
        Assert.Equal(1, peer.GetStatistics().BlobsCorrupt);
        Assert.True(proxy.GetStatistics().Errors >= 1);
    }

    [Fact]
    public async Task Proxy_Blob_StreamedWithTheRightDigest()
    {
        await using var registry = await CountingRegistry.StartAsync();
        await using var cluster = new P2PCluster(registry.Host);
        byte[] content = P2PCluster.MakeContent((5 * P2PCluster.TestPieceSize) + 999, 11);
        var blob = registry.Put("m/blob", content);
        await cluster.StartSchedulerAsync();
        var peer = await cluster.StartPeerAsync("proxied");
        await using var proxy = await RegistryMirrorProxy.StartAsync(
            new RegistryMirrorProxyOptions { Listen = new Uri("http://127.0.0.1:0"), Upstream = registry.Host, PlainHttpUpstream = true },
            host => peer.CreateBlobSource(host));
        using var http = new HttpClient();

        byte[] body = await http.GetByteArrayAsync(new Uri(proxy.Url, $"v2/m/blob/blobs/{blob.Digest}"));

        Assert.Equal(blob.Digest, Digest.Compute(body));
        Assert.Equal(content.Length, registry.BytesServed);
        Assert.Equal(1, peer.GetStatistics().BlobsCompleted);
    }

    private static void CorruptStoredPieces(P2PCluster cluster, string peer)
    {
        foreach (string file in Directory.EnumerateFiles(Path.Combine(cluster.Root, peer, "pieces"), "*", SearchOption.AllDirectories))
        {
            byte[] bytes = File.ReadAllBytes(file);
            bytes[0] ^= 0xFF;
            File.WriteAllBytes(file, bytes);
        }
    }
}

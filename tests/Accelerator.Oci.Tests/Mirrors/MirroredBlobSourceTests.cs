using Accelerator.Oci.Layout;
using Accelerator.Oci.Mirrors;
using Accelerator.Oci.Pulling;
using Accelerator.Oci.Registry;
using Accelerator.Oci.Resolution;
using Accelerator.Oci.Tests.Registry;
using Accelerator.Testing.Registry;
using Microsoft.Extensions.Time.Testing;

namespace Accelerator.Oci.Tests.Mirrors;

/// <summary>
/// Blob reads through mirror sets of real registries, with test doubles in front of them that count, corrupt, stall,
/// die mid-transfer, demand credentials and redirect.
/// </summary>
[Collection(MirrorCollection.Name)]
public sealed class MirroredBlobSourceTests(MirrorFixture fixture)
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);

    [Theory]
    [InlineData(LoadBalancingPolicy.RoundRobin)]
    [InlineData(LoadBalancingPolicy.LeastOutstandingRequests)]
    public async Task OpenReadAsync_Balanced_SpreadsBlobsOverMirrors(LoadBalancingPolicy policy)
    {
        await using var origin = await RegistryProxy.StartAsync(fixture.Origin.Url);
        await using var a = await RegistryProxy.StartAsync(fixture.MirrorA.Url);
        await using var b = await RegistryProxy.StartAsync(fixture.MirrorB.Url);
        using var mirrors = MirrorFixture.Mirrors(origin.Host, [a.Url.ToString(), b.Url.ToString()], o => o.LoadBalancing = policy);
        var store = mirrors.Store(origin.Host);
        var (image, layers) = await ResolveAppAsync(store, origin.Host);

        for (int round = 0; round < 2; round++)
        {
            // Sequential reads for round-robin, all at once for least-outstanding.
            if (policy == LoadBalancingPolicy.RoundRobin)
            {
                foreach (var layer in layers)
                {
                    await ReadAndCheckAsync(store.Blobs, BlobAddress.For(image.Repository, layer));
                }
            }
            else
            {
                await Task.WhenAll(layers.Select(layer => ReadAndCheckAsync(store.Blobs, BlobAddress.For(image.Repository, layer))));
            }
        }

        int fromA = a.BlobGets, fromB = b.BlobGets;
        Assert.Equal((layers.Count * 2) + 1, fromA + fromB);
        Assert.Equal(0, origin.BlobGets);
        if (policy == LoadBalancingPolicy.RoundRobin)
        {
            Assert.InRange(Math.Abs(fromA - fromB), 0, 1);
        }
        else
        {
            Assert.True(fromA >= 2 && fromB >= 2, $"a {fromA}, b {fromB}");
        }
    }

    [Fact]
    public async Task OpenReadAsync_ConsistentHash_SameMirrorPerDigestAndOnlyTheDownMirrorsShareMoves()
    {
        // Three mirrors: two stand-ins in front of mirror A and one in front of mirror B (each its own host).
        await using var a1 = await RegistryProxy.StartAsync(fixture.MirrorA.Url);
        await using var a2 = await RegistryProxy.StartAsync(fixture.MirrorA.Url);
        await using var b = await RegistryProxy.StartAsync(fixture.MirrorB.Url);
        var proxies = new[] { a1, a2, b };
        string[] urls = proxies.Select(p => p.Url.ToString()).ToArray();

        async Task<Dictionary<Digest, string>> ReadAllAsync(string[] order)
        {
            var before = proxies.ToDictionary(p => p.Host, p => p.Snapshot().Count(r => r.IsBlobGet));
            using var mirrors = MirrorFixture.Mirrors(fixture.Origin.Host, order, o => o.LoadBalancing = LoadBalancingPolicy.ConsistentHash);
            var store = mirrors.Store(fixture.Origin.Host);
            var (image, layers) = await ResolveAppAsync(store, fixture.Origin.Host);
            var servedBy = new Dictionary<Digest, string>();
            foreach (var layer in layers)
            {
                await ReadAndCheckAsync(store.Blobs, BlobAddress.For(image.Repository, layer));
                var server = proxies.Single(p => p.Snapshot().Any(r => r.IsBlobGet && r.Path.EndsWith(layer.Digest.ToString(), StringComparison.Ordinal)
                    && p.Snapshot().Count(x => x.IsBlobGet) > before[p.Host]));
                servedBy[layer.Digest] = server.Host;
                before[server.Host]++;
            }

            return servedBy;
        }

        var first = await ReadAllAsync(urls);
        // Another client, listing the mirrors in another order, sends every digest to the same mirror.
        var second = await ReadAllAsync([.. urls.Reverse()]);
        Assert.Equal(first, second);

        var down = proxies.OrderByDescending(p => first.Values.Count(h => h == p.Host)).First();
        down.Failing = true;
        var third = await ReadAllAsync(urls);
        foreach (var (digest, host) in first)
        {
            if (host == down.Host)
            {
                Assert.NotEqual(down.Host, third[digest]);
            }
            else
            {
                Assert.Equal(host, third[digest]);
            }
        }
    }

    [Fact]
    public async Task PullAsync_MirrorCorruptsBlobs_SkippedAndResultVerified()
    {
        await using var corrupt = await RegistryProxy.StartAsync(fixture.MirrorA.Url);
        corrupt.CorruptBlobs = true;
        await using var b = await RegistryProxy.StartAsync(fixture.MirrorB.Url);
        using var mirrors = MirrorFixture.Mirrors(fixture.Origin.Host, [corrupt.Url.ToString(), b.Url.ToString()], o =>
        {
            o.LoadBalancing = LoadBalancingPolicy.Ordered;
            o.FailureThreshold = 100;
        });
        var image = MirrorFixture.Reference(fixture.Origin.Host, MirrorFixture.App);
        string target = Path.Combine(fixture.WorkDirectory, "pull-" + Guid.NewGuid().ToString("N"));

        var result = await ImagePuller.PullAsync(mirrors.Store(fixture.Origin.Host), image, target);

        Assert.Equal(fixture.AppDigest, result.Image.Manifest.Digest);
        Assert.DoesNotContain(Testing.Trees.TreeSnapshot.Compare(fixture.AppTree, Testing.Trees.TreeSnapshot.Capture(target)), d => d.Path != ".");
        Directory.Delete(target, recursive: true);
        // Every blob was tried at the corrupting mirror first, refused, and read again from B.
        var stats = mirrors.Stats(corrupt.Host);
        Assert.Equal(result.Image.Layers.Count + 1, corrupt.BlobGets);
        Assert.Equal(0, stats.BlobsServed);
        Assert.True(stats.Failures >= result.Image.Layers.Count + 1);
        Assert.Equal(result.Image.Layers.Sum(l => l.Size), result.BytesFetchedBySource["mirror:" + b.Host]);
    }

    [Fact]
    public async Task DownloadToFileAsync_CorruptPrefixThenTruncated_ResumedBytesRejectedAndBlobReadAgainWhole()
    {
        var layer = await BigLayerAsync();
        await using var bad = await RegistryProxy.StartAsync(fixture.MirrorB.Url);
        bad.CorruptBlobs = true;
        bad.TruncateBlobsAfter = 256 * 1024;
        await using var good = await RegistryProxy.StartAsync(fixture.MirrorB.Url);
        using var mirrors = MirrorFixture.Mirrors(fixture.Origin.Host, [bad.Url.ToString(), good.Url.ToString()], o => o.LoadBalancing = LoadBalancingPolicy.Ordered);
        string path = Path.Combine(fixture.WorkDirectory, "blob-" + Guid.NewGuid().ToString("N"));

        var sources = await mirrors.Store(fixture.Origin.Host).BlobSource.DownloadToFileAsync(BlobAddress.For(MirrorFixture.Big, layer), path);

        Assert.Equal(layer.Digest, await DigestOfFileAsync(path));
        File.Delete(path);
        // A corrupt prefix from the bad host, the rest from the good one (a range), and a mismatch over both: which
        // host lied is unknowable, so the blob is read again whole, without resuming, from the next host (the origin).
        long prefix = sources["mirror:" + bad.Host];
        Assert.Equal(256 * 1024, prefix);
        var range = Assert.Single(good.Snapshot(), r => r.IsBlobGet).Range;
        Assert.Equal($"bytes={prefix}-{layer.Size - 1}", range);
        Assert.Equal(1, bad.BlobGets);
        Assert.Equal(layer.Size - prefix, sources["mirror:" + good.Host]);
        Assert.Equal(layer.Size, sources["origin"]);
        Assert.Empty(Directory.EnumerateFiles(fixture.WorkDirectory, "*.partial"));
    }

    [Fact]
    public async Task DownloadToFileAsync_LargeBlob_SegmentsFromEveryMirrorAndVerified()
    {
        var layer = await BigLayerAsync();
        await using var b1 = await RegistryProxy.StartAsync(fixture.MirrorB.Url);
        await using var b2 = await RegistryProxy.StartAsync(fixture.MirrorB.Url);
        using var mirrors = MirrorFixture.Mirrors(fixture.Origin.Host, [b1.Url.ToString(), b2.Url.ToString()], o =>
        {
            o.LoadBalancing = LoadBalancingPolicy.RoundRobin;
            o.SegmentSize = 1 << 20;
        });
        string path = Path.Combine(fixture.WorkDirectory, "blob-" + Guid.NewGuid().ToString("N"));

        var sources = await mirrors.Store(fixture.Origin.Host).BlobSource.DownloadToFileAsync(BlobAddress.For(MirrorFixture.Big, layer), path);

        Assert.Equal(layer.Digest, await DigestOfFileAsync(path));
        File.Delete(path);
        long segments = (layer.Size + (1 << 20) - 1) >> 20;
        Assert.Equal(segments, b1.BlobGets + b2.BlobGets);
        Assert.True(b1.BlobGets > 0 && b2.BlobGets > 0, $"b1 {b1.BlobGets}, b2 {b2.BlobGets}");
        // Every request is one segment: a range starting on a segment boundary.
        Assert.All(b1.Snapshot().Concat(b2.Snapshot()).Where(r => r.IsBlobGet), r => Assert.Equal(0, long.Parse(r.Range!["bytes=".Length..r.Range!.IndexOf('-')], System.Globalization.CultureInfo.InvariantCulture) % (1 << 20)));
        Assert.Equal(layer.Size, sources.Values.Sum());
        Assert.DoesNotContain("origin", sources.Keys);
    }

    [Fact]
    public async Task DownloadToFileAsync_SegmentsAndOneMirrorFails_OthersTakeItsSegments()
    {
        var layer = await BigLayerAsync();
        await using var failing = await RegistryProxy.StartAsync(fixture.MirrorB.Url);
        failing.TruncateBlobsAfter = 100_000;
        await using var good = await RegistryProxy.StartAsync(fixture.MirrorB.Url);
        using var mirrors = MirrorFixture.Mirrors(fixture.Origin.Host, [failing.Url.ToString(), good.Url.ToString()], o =>
        {
            o.LoadBalancing = LoadBalancingPolicy.LeastOutstandingRequests;
            o.SegmentSize = 1 << 20;
        });
        string path = Path.Combine(fixture.WorkDirectory, "blob-" + Guid.NewGuid().ToString("N"));

        var sources = await mirrors.Store(fixture.Origin.Host).BlobSource.DownloadToFileAsync(BlobAddress.For(MirrorFixture.Big, layer), path);

        Assert.Equal(layer.Digest, await DigestOfFileAsync(path));
        File.Delete(path);
        // The failing mirror gave up after its first (truncated) segment; the good one did the rest.
        Assert.Equal(1, failing.BlobGets);
        Assert.Equal(layer.Size, sources["mirror:" + good.Host]);
        Assert.Equal(1, mirrors.Stats(failing.Host).Failures);
    }

    [Fact]
    public async Task DownloadToFileAsync_SegmentsAndOneMirrorCorrupts_ReadAgainFromOneHostAtATime()
    {
        var layer = await BigLayerAsync();
        await using var corrupt = await RegistryProxy.StartAsync(fixture.MirrorB.Url);
        corrupt.CorruptBlobs = true;
        await using var good = await RegistryProxy.StartAsync(fixture.MirrorB.Url);
        using var mirrors = MirrorFixture.Mirrors(fixture.Origin.Host, [corrupt.Url.ToString(), good.Url.ToString()], o =>
        {
            o.LoadBalancing = LoadBalancingPolicy.RoundRobin;
            o.SegmentSize = 1 << 20;
        });
        string path = Path.Combine(fixture.WorkDirectory, "blob-" + Guid.NewGuid().ToString("N"));

        var sources = await mirrors.Store(fixture.Origin.Host).BlobSource.DownloadToFileAsync(BlobAddress.For(MirrorFixture.Big, layer), path);

        Assert.Equal(layer.Digest, await DigestOfFileAsync(path));
        File.Delete(path);
        Assert.True(corrupt.BlobGets > 0);
        // Segments of both did not verify together; the blob was then read whole from one host.
        Assert.Contains(good.Snapshot().Concat(corrupt.Snapshot()), r => r.IsBlobGet && r.Range == $"bytes=0-{layer.Size - 1}");
        Assert.True(sources.Values.Sum() > layer.Size);
    }

    [Fact]
    public async Task OpenReadAsync_MirrorStalls_AbandonedAfterStallTimeout()
    {
        await using var stalled = await RegistryProxy.StartAsync(fixture.MirrorA.Url);
        stalled.StallBlobs = true;
        await using var b = await RegistryProxy.StartAsync(fixture.MirrorB.Url);
        using var mirrors = MirrorFixture.Mirrors(fixture.Origin.Host, [stalled.Url.ToString(), b.Url.ToString()], o =>
        {
            o.LoadBalancing = LoadBalancingPolicy.Ordered;
            o.StallTimeout = TimeSpan.FromMilliseconds(300);
        });
        var store = mirrors.Store(fixture.Origin.Host);
        var (image, layers) = await ResolveAppAsync(store, fixture.Origin.Host);
        var largest = layers.MaxBy(l => l.Size)!;
        using var deadline = new CancellationTokenSource(Deadline);

        await ReadAndCheckAsync(store.Blobs, BlobAddress.For(image.Repository, largest), deadline.Token);

        // The stalled mirror sent the layer's headers and a first chunk, then nothing: abandoned, the read went on at B
        // (from where the stalled mirror stopped). The small config fit in one chunk and came whole from the stalled mirror.
        bool IsLayer(ProxiedRequest r) => r.IsBlobGet && r.Path.EndsWith(largest.Digest.ToString(), StringComparison.Ordinal);
        Assert.Single(stalled.Snapshot(), IsLayer);
        Assert.True(stalled.BlobBytesSent > largest.Size / 100);
        var resumed = Assert.Single(b.Snapshot(), IsLayer);
        Assert.NotEqual($"bytes=0-{largest.Size - 1}", resumed.Range);
        Assert.Equal(1, mirrors.Stats(stalled.Host).Failures);
    }

    [Fact]
    public async Task PullAsync_MirrorKilledMidTransfer_CompletesFromAnotherMirror()
    {
        await using var victim = await DockerRegistryProcess.StartAsync();
        using (var setup = new RegistryClient(RegistryFixture.Options()))
        {
            await MirrorFixture.PushAsync(setup, fixture.BigLayout, victim.Host, MirrorFixture.Big);
        }

        await using var slow = await RegistryProxy.StartAsync(victim.Url);
        slow.ThrottleMilliseconds = 5;
        await using var b = await RegistryProxy.StartAsync(fixture.MirrorB.Url);
        using var mirrors = MirrorFixture.Mirrors(fixture.Origin.Host, [slow.Url.ToString(), b.Url.ToString()], o => o.LoadBalancing = LoadBalancingPolicy.Ordered);
        var image = MirrorFixture.Reference(fixture.Origin.Host, MirrorFixture.Big);
        string target = Path.Combine(fixture.WorkDirectory, "pull-" + Guid.NewGuid().ToString("N"));
        using var deadline = new CancellationTokenSource(Deadline);

        var pull = ImagePuller.PullAsync(mirrors.Store(fixture.Origin.Host), image, target, null, deadline.Token);
        while (slow.BlobBytesSent < (2 << 20))
        {
            Assert.False(pull.IsCompleted, "The pull finished before the mirror could be killed.");
            await Task.Delay(10, deadline.Token);
        }

        await victim.DisposeAsync();
        var result = await pull;

        long total = result.Image.Layers.Sum(l => l.Size);
        long fromVictim = result.BytesFetchedBySource["mirror:" + slow.Host];
        Assert.InRange(fromVictim, 1, total - 1);
        Assert.True(result.BytesFetchedBySource["mirror:" + b.Host] >= total - fromVictim);
        // B continued where the dead mirror stopped, with ranges.
        Assert.Contains(b.Snapshot(), r => r.IsBlobGet && r.Range is { } range && !range.StartsWith("bytes=0-", StringComparison.Ordinal));
        Assert.True(Directory.EnumerateFiles(target, "*", SearchOption.AllDirectories).Any());
        Directory.Delete(target, recursive: true);
    }

    [Fact]
    public async Task OpenReadAsync_MirrorRedirectsToAnotherHost_CredentialsAndHeadersStayWithTheMirror()
    {
        // B stands for the storage host a mirror redirects blob reads to, on another address: it records what it gets.
        await using var storage = await RegistryProxy.StartAsync(fixture.MirrorA.Url, "127.0.0.2");
        await using var mirror = await RegistryProxy.StartAsync(fixture.MirrorA.Url);
        mirror.RequireBasic = "alice:wonder";
        mirror.RedirectBlobsTo = storage.Url;
        await using var origin = await RegistryProxy.StartAsync(fixture.Origin.Url);
        using var mirrors = MirrorFixture.Mirrors(
            origin.Host,
            [],
            o => o.Registries[origin.Host].Mirrors.Add(new MirrorEndpoint(mirror.Url) { Headers = { ["X-Mirror-Token"] = ["t0ken"] } }),
            registryOptions: o =>
            {
                o.Hosts[mirror.Host] = new RegistryHostOptions { Username = "alice", Password = "wonder" };
                // The stand-in storage is on loopback, which a redirect may reach only when allowed.
                o.AllowLocalRedirectTargets = true;
            });
        var store = mirrors.Store(origin.Host);
        var (image, layers) = await ResolveAppAsync(store, origin.Host);

        foreach (var layer in layers)
        {
            await ReadAndCheckAsync(store.Blobs, BlobAddress.For(image.Repository, layer));
        }

        // The mirror's credentials and its configured header reach the mirror, and nobody else: not the host it
        // redirects to, not the origin.
        Assert.Equal(layers.Count + 1, storage.BlobGets);
        Assert.All(storage.Snapshot(), r => Assert.Null(r.Authorization));
        Assert.All(storage.Snapshot(), r => Assert.Null(r.MirrorToken));
        Assert.Contains(mirror.Snapshot(), r => r.Authorization?.StartsWith("Basic ", StringComparison.Ordinal) == true);
        Assert.All(mirror.Snapshot(), r => Assert.Equal("t0ken", r.MirrorToken));
        Assert.All(origin.Snapshot(), r => Assert.Null(r.Authorization));
        Assert.All(origin.Snapshot(), r => Assert.Null(r.MirrorToken));
        Assert.Equal(0, origin.BlobGets);
    }

    [Fact]
    public async Task OpenReadAsync_FailingMirror_LeftAloneAfterFailuresThenBackAfterBackoff()
    {
        await using var flaky = await RegistryProxy.StartAsync(fixture.MirrorA.Url);
        flaky.Failing = true;
        await using var b = await RegistryProxy.StartAsync(fixture.MirrorB.Url);
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        using var mirrors = MirrorFixture.Mirrors(fixture.Origin.Host, [flaky.Url.ToString(), b.Url.ToString()], o =>
        {
            o.LoadBalancing = LoadBalancingPolicy.Ordered;
            o.FailureThreshold = 2;
            o.MinimumBackoff = TimeSpan.FromSeconds(30);
        }, time);
        var store = mirrors.Store(fixture.Origin.Host);
        var manifest = (await ImageResolver.ResolveAsync(OciImageLayout.Open(fixture.AppLayout), ImageReference.Parse($"oci:{fixture.AppLayout}:{MirrorFixture.Tag}"))).ImageManifest;
        // Blobs read directly, without a manifest first: every pull mirror may be asked.
        var blobs = manifest.Layers.Select(l => BlobAddress.For(MirrorFixture.App, l)).ToList();

        await ReadAndCheckAsync(store.Blobs, blobs[0]);
        await ReadAndCheckAsync(store.Blobs, blobs[1]);
        Assert.Equal(2, flaky.Snapshot().Count);
        Assert.NotNull(mirrors.Stats(flaky.Host).OpenUntil);

        await ReadAndCheckAsync(store.Blobs, blobs[2]);
        Assert.Equal(2, flaky.Snapshot().Count);

        flaky.Failing = false;
        time.Advance(TimeSpan.FromSeconds(31));
        await ReadAndCheckAsync(store.Blobs, blobs[3]);
        Assert.Equal(3, flaky.Snapshot().Count);
        Assert.True(flaky.Snapshot()[2].IsBlobGet);
        var stats = mirrors.Stats(flaky.Host);
        Assert.Null(stats.OpenUntil);
        Assert.Equal(1, stats.BlobsServed);
        // B served the three reads the flaky mirror could not.
        Assert.Equal(3, b.BlobGets);
    }

    [Theory]
    [InlineData(8L << 20)]
    [InlineData(0L)]
    public async Task OpenRangeAsync_FirstMirrorFails_RangeFromNextHost(long bufferLimit)
    {
        await using var failing = await RegistryProxy.StartAsync(fixture.MirrorA.Url);
        failing.Failing = true;
        await using var b = await RegistryProxy.StartAsync(fixture.MirrorB.Url);
        using var mirrors = MirrorFixture.Mirrors(fixture.Origin.Host, [failing.Url.ToString(), b.Url.ToString()], o =>
        {
            o.LoadBalancing = LoadBalancingPolicy.Ordered;
            o.RangeBufferLimit = bufferLimit;
        });
        var layout = OciImageLayout.Open(fixture.AppLayout);
        var layer = (await ImageResolver.ResolveAsync(layout, ImageReference.Parse($"oci:{fixture.AppLayout}:{MirrorFixture.Tag}"))).Layers.MaxBy(l => l.Size)!;
        var address = BlobAddress.For(MirrorFixture.App, layer);
        byte[] expected = new byte[1000];
        await layout.Blobs.ReadRangeAsync(address, 4321, expected);

        byte[] actual = new byte[1000];
        int n = await mirrors.Store(fixture.Origin.Host).Blobs.ReadRangeAsync(address, 4321, actual);

        Assert.Equal(1000, n);
        Assert.Equal(expected, actual);
        Assert.Equal(1, failing.BlobGets);
        Assert.Equal("bytes=4321-5320", Assert.Single(b.Snapshot(), r => r.IsBlobGet).Range);
    }

    private static async Task<(ImageReference Image, IReadOnlyList<Descriptor> Layers)> ResolveAppAsync(MirroredImageStore store, string registry)
    {
        var image = MirrorFixture.Reference(registry, MirrorFixture.App);
        var resolved = await ImageResolver.ResolveAsync(store, image);
        return (image, resolved.Layers);
    }

    private async Task<Descriptor> BigLayerAsync()
    {
        var layout = OciImageLayout.Open(fixture.BigLayout);
        var resolved = await ImageResolver.ResolveAsync(layout, ImageReference.Parse($"oci:{fixture.BigLayout}:{MirrorFixture.Tag}"));
        return resolved.Layers.MaxBy(l => l.Size)!;
    }

    private static async Task ReadAndCheckAsync(IBlobSource source, BlobAddress blob, CancellationToken cancellationToken = default)
    {
        await using var stream = await source.OpenReadAsync(blob, cancellationToken);
        Assert.Equal(blob.Digest, await Digest.ComputeAsync(stream, cancellationToken));
    }

    private static async Task<Digest> DigestOfFileAsync(string path)
    {
        await using var file = File.OpenRead(path);
        return await Digest.ComputeAsync(file);
    }
}

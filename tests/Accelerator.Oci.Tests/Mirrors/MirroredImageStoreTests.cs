using Accelerator.Oci.Mirrors;
using Accelerator.Oci.Pulling;
using Accelerator.Oci.Registry;
using Accelerator.Oci.Resolution;
using Accelerator.Oci.Tests.Registry;
using Accelerator.Testing.Trees;
using Microsoft.Extensions.Time.Testing;

namespace Accelerator.Oci.Tests.Mirrors;

/// <summary>Images read through mirror sets of real registries: same result, tags resolved only where allowed, replication checked.</summary>
[Collection(MirrorCollection.Name)]
public sealed class MirroredImageStoreTests(MirrorFixture fixture)
{
    [Fact]
    public async Task PullAsync_ThroughTwoMirrors_SameTreeAndDigestsAsOrigin()
    {
        await using var origin = await RegistryProxy.StartAsync(fixture.Origin.Url);
        await using var a = await RegistryProxy.StartAsync(fixture.MirrorA.Url);
        await using var b = await RegistryProxy.StartAsync(fixture.MirrorB.Url);
        using var mirrors = MirrorFixture.Mirrors(origin.Host, [a.Url.ToString(), b.Url.ToString()], o => o.LoadBalancing = LoadBalancingPolicy.RoundRobin);
        var image = MirrorFixture.Reference(origin.Host, MirrorFixture.App);
        var store = new ImageStoreResolver(mirrors.Client, mirrors.Registries).GetStore(image);
        Assert.IsType<MirroredImageStore>(store);
        string target = Path.Combine(fixture.WorkDirectory, "pull-" + Guid.NewGuid().ToString("N"));

        var result = await ImagePuller.PullAsync(store, image, target);

        Assert.Equal(fixture.AppDigest, result.Image.Manifest.Digest);
        // The root directory is made by the pull (the image has no entry for it), so its time is the pull's.
        var differences = TreeSnapshot.Compare(fixture.AppTree, TreeSnapshot.Capture(target)).Where(d => d.Path != ".").ToList();
        Assert.True(differences.Count == 0, string.Join("\n", differences));
        Directory.Delete(target, recursive: true);

        // The origin resolved the tag and served no blob; both mirrors served layers.
        Assert.Equal(0, origin.BlobGets);
        Assert.Single(origin.Snapshot(), r => r.IsTagRequest);
        Assert.True(a.BlobGets > 0 && b.BlobGets > 0, $"a {a.BlobGets}, b {b.BlobGets}");
        Assert.Equal(result.Image.Layers.Sum(l => l.Size), result.BytesFetchedBySource.Values.Sum());
        Assert.Equal(new[] { "mirror:" + a.Host, "mirror:" + b.Host }.Order(StringComparer.Ordinal), result.BytesFetchedBySource.Keys.Order(StringComparer.Ordinal));
        Assert.All(mirrors.Registries.GetStatistics(), s => Assert.Equal(0, s.Failures));
    }

    [Fact]
    public async Task GetManifestAsync_PullOnlyMirrors_TagResolvedAtOriginOnly()
    {
        await using var origin = await RegistryProxy.StartAsync(fixture.Origin.Url);
        await using var a = await RegistryProxy.StartAsync(fixture.MirrorA.Url);
        using var mirrors = MirrorFixture.Mirrors(origin.Host, [a.Url.ToString()]);
        var image = MirrorFixture.Reference(origin.Host, MirrorFixture.App);

        var resolved = await ImageResolver.ResolveAsync(mirrors.Store(origin.Host), image);

        Assert.Equal(fixture.AppDigest, resolved.Manifest.Digest);
        Assert.DoesNotContain(a.Snapshot(), r => r.IsTagRequest);
        Assert.Single(origin.Snapshot(), r => r.IsTagRequest);
        // The config came from the mirror, after it said it holds the manifest.
        Assert.Contains(a.Snapshot(), r => r.Method == "HEAD" && r.Path.EndsWith("/manifests/" + fixture.AppDigest, StringComparison.Ordinal));
        Assert.Equal(1, a.BlobGets);
    }

    [Fact]
    public async Task GetManifestAsync_ResolveCapableMirror_TagResolvedThereNotAtOrigin()
    {
        await using var origin = await RegistryProxy.StartAsync(fixture.Origin.Url);
        await using var a = await RegistryProxy.StartAsync(fixture.MirrorA.Url);
        await using var b = await RegistryProxy.StartAsync(fixture.MirrorB.Url);
        using var mirrors = MirrorFixture.Mirrors(origin.Host, [], o =>
        {
            var set = o.Registries[origin.Host];
            set.Mirrors.Add(MirrorEndpoint.Parse(a.Url.ToString(), MirrorCapabilities.Pull));
            set.Mirrors.Add(MirrorEndpoint.Parse(b.Url.ToString(), MirrorCapabilities.Pull | MirrorCapabilities.Resolve));
        });

        var manifest = await mirrors.Store(origin.Host).GetManifestAsync(MirrorFixture.Reference(origin.Host, MirrorFixture.App));

        Assert.Equal(fixture.AppDigest, manifest.Digest);
        Assert.Single(b.Snapshot(), r => r.IsTagRequest);
        Assert.DoesNotContain(a.Snapshot(), r => r.IsTagRequest);
        Assert.Empty(origin.Snapshot());
    }

    [Fact]
    public async Task GetManifestAsync_NoHostMayResolve_ClearError()
    {
        await using var a = await RegistryProxy.StartAsync(fixture.MirrorA.Url);
        using var mirrors = MirrorFixture.Mirrors(fixture.Origin.Host, [], o => o.Registries[fixture.Origin.Host].Server = MirrorEndpoint.Parse(a.Url.ToString(), MirrorCapabilities.Pull));
        var store = mirrors.Store(fixture.Origin.Host);

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => store.GetManifestAsync(MirrorFixture.Reference(fixture.Origin.Host, MirrorFixture.App)));
        Assert.Contains("resolve", error.Message, StringComparison.Ordinal);
        // By digest it works, from the pull-only server.
        var pinned = ImageReference.Parse($"{fixture.Origin.Host}/{MirrorFixture.App}@{fixture.AppDigest}");
        Assert.Equal(fixture.AppDigest, (await store.GetManifestAsync(pinned)).Digest);
        Assert.DoesNotContain(a.Snapshot(), r => r.IsTagRequest);
    }

    [Fact]
    public async Task PullAsync_MirrorLacksManifest_NeverAskedForContentUntilReplicatedAndCacheExpired()
    {
        // An image on the origin and mirror A only; B gets it later, as replication would.
        string repository = "sample/replicated-" + Guid.NewGuid().ToString("N")[..8];
        using (var setup = new RegistryClient(RegistryFixture.Options()))
        {
            await MirrorFixture.PushAsync(setup, fixture.PartialLayout, fixture.Origin.Host, repository);
            await MirrorFixture.PushAsync(setup, fixture.PartialLayout, fixture.MirrorA.Host, repository);
        }

        await using var a = await RegistryProxy.StartAsync(fixture.MirrorA.Url);
        await using var b = await RegistryProxy.StartAsync(fixture.MirrorB.Url);
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        // B is first in order: whenever it may serve, it does.
        using var mirrors = MirrorFixture.Mirrors(fixture.Origin.Host, [b.Url.ToString(), a.Url.ToString()], o =>
        {
            o.LoadBalancing = LoadBalancingPolicy.Ordered;
            o.AbsenceCacheDuration = TimeSpan.FromSeconds(5);
            o.PresenceCacheDuration = TimeSpan.FromMinutes(1);
        }, time);
        var image = MirrorFixture.Reference(fixture.Origin.Host, repository);

        await PullAndDeleteAsync(mirrors, image);
        var asked = b.Snapshot();
        var head = Assert.Single(asked);
        Assert.Equal("HEAD", head.Method);
        Assert.Contains("/manifests/sha256:", head.Path, StringComparison.Ordinal);
        Assert.True(a.BlobGets > 0);

        // Within the cache's time, B is not asked again.
        await PullAndDeleteAsync(mirrors, image);
        Assert.Single(b.Snapshot());

        using (var setup = new RegistryClient(RegistryFixture.Options()))
        {
            await MirrorFixture.PushAsync(setup, fixture.PartialLayout, fixture.MirrorB.Host, repository);
        }

        await PullAndDeleteAsync(mirrors, image);
        Assert.Single(b.Snapshot());

        // Once the "absent" answer expires, B is asked again, says yes, and serves the content.
        time.Advance(TimeSpan.FromSeconds(6));
        int aBlobs = a.BlobGets;
        await PullAndDeleteAsync(mirrors, image);
        Assert.Equal(2, b.Snapshot().Count(r => r.Method == "HEAD"));
        Assert.True(b.BlobGets > 0);
        Assert.Equal(aBlobs, a.BlobGets);
    }

    [Fact]
    public async Task PushManifestAsync_ThroughMirrorSet_WritesToOriginOnly()
    {
        await using var a = await RegistryProxy.StartAsync(fixture.MirrorA.Url);
        using var mirrors = MirrorFixture.Mirrors(fixture.Origin.Host, [a.Url.ToString()]);
        string repository = "sample/pushed-" + Guid.NewGuid().ToString("N")[..8];
        var source = ImageReference.Parse($"oci:{fixture.PartialLayout}:{MirrorFixture.Tag}");

        await Oci.Copying.ImageCopier.CopyAsync(Oci.Layout.OciImageLayout.Open(fixture.PartialLayout), source, mirrors.Store(fixture.Origin.Host), MirrorFixture.Reference(fixture.Origin.Host, repository));

        Assert.NotNull(await mirrors.Client.HeadManifestAsync(fixture.Origin.Host, repository, MirrorFixture.Tag));
        Assert.Null(await mirrors.Client.HeadManifestAsync(fixture.MirrorA.Host, repository, MirrorFixture.Tag));
        Assert.DoesNotContain(a.Snapshot(), r => r.Method is "PUT" or "POST" or "PATCH");
    }

    private async Task PullAndDeleteAsync(MirrorClient mirrors, ImageReference image)
    {
        string target = Path.Combine(fixture.WorkDirectory, "pull-" + Guid.NewGuid().ToString("N"));
        await ImagePuller.PullAsync(mirrors.Store(image.Registry), image, target);
        Directory.Delete(target, recursive: true);
    }
}

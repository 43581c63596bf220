using Accelerator.Oci.Copying;
using Accelerator.Oci.Model;
using Accelerator.Oci.Registry;
using Accelerator.Replication;
using Accelerator.Oci.Tests.Registry;
using Accelerator.Testing.Images;

namespace Accelerator.Replication.Tests;

/// <summary>The replicator against three real docker-registry processes.</summary>
[Collection(ReplicationCollection.Name)]
public sealed class ReplicatorTests(ReplicationFixture fixture)
{
    private string Source => fixture.Source.Host;

    private Replicator Create(RegistryClient client, string filter, Action<ReplicationOptions>? configure = null)
    {
        var options = new ReplicationOptions { Filter = ReplicationFilter.Parse(filter) };
        options.Targets.Add(new ReplicationEndpoint(fixture.TargetA.Host, ""));
        options.Targets.Add(new ReplicationEndpoint(fixture.TargetB.Host, ""));
        configure?.Invoke(options);
        return new Replicator(client, options);
    }

    [Fact]
    public async Task RunAsync_IndexAndAccelVariants_DigestsIdenticalOnEveryTargetAndRerunSkipsAll()
    {
        using var client = new RegistryClient(RegistryFixture.Options());
        var index = await ReplicationFixture.PushIndexAsync(client, Source, "rep1/app", "1.0", 100);
        await TestImage.Create(110).PushAsync(client, Source, "rep1/app", "1.0-accel");
        await TestImage.Create(111, true).PushAsync(client, Source, "rep1/app", "1.0-accel-block");
        await TestImage.Create(112).PushAsync(client, Source, "rep1/app", "2.0");
        await TestImage.Create(113).PushAsync(client, Source, "rep1/other", "1.0");

        var report = await Create(client, "rep1/app:1.0").RunAsync(new ReplicationEndpoint(Source, ""));

        Assert.True(report.Succeeded, string.Join("; ", report.Images.Select(i => i.Error)));
        Assert.Equal(6, report.Count(ReplicationStatus.Copied));
        Assert.Equal(
            ["1.0", "1.0", "1.0-accel", "1.0-accel", "1.0-accel-block", "1.0-accel-block"],
            report.Images.Select(i => i.Source.Split(':').Last()));
        foreach (string tag in new[] { "1.0", "1.0-accel", "1.0-accel-block" })
        {
            string expected = await RawAsync($"{Source}/rep1/app:{tag}");
            Assert.Equal(expected, await RawAsync($"{fixture.TargetA.Host}/rep1/app:{tag}"));
            Assert.Equal(expected, await RawAsync($"{fixture.TargetB.Host}/rep1/app:{tag}"));
        }

        foreach (var child in index.Index!.Manifests)
        {
            Assert.Equal(await RawAsync($"{Source}/rep1/app@{child.Digest}"), await RawAsync($"{fixture.TargetB.Host}/rep1/app@{child.Digest}"));
        }

        Assert.Equal(index.Digest, report.Images[0].Digest);
        Assert.Null(await client.HeadManifestAsync(fixture.TargetA.Host, "rep1/app", "2.0"));
        Assert.Null(await client.HeadManifestAsync(fixture.TargetA.Host, "rep1/other", "1.0"));

        var rerun = await Create(client, "rep1/app:1.0").RunAsync(new ReplicationEndpoint(Source, ""));

        Assert.Equal(6, rerun.Count(ReplicationStatus.Skipped));
        Assert.Equal(0, rerun.BytesCopied);
    }

    [Fact]
    public async Task RunAsync_BlobSharedByTwoRepositories_MountedOnTheTarget()
    {
        using var client = new RegistryClient(RegistryFixture.Options());
        var shared = TestImage.Create(200, false, 40_000, 30_000);
        await shared.PushAsync(client, Source, "rep2/a", "v1");
        await shared.PushAsync(client, Source, "rep2/b", "v1");

        var report = await Create(client, "rep2/**", o => o.MaxParallelImages = 1).RunAsync(new ReplicationEndpoint(Source, ""));

        Assert.True(report.Succeeded, string.Join("; ", report.Images.Select(i => i.Error)));
        var second = report.Images.Where(i => i.Source.Contains("rep2/b", StringComparison.Ordinal)).ToList();
        Assert.All(second, i => Assert.Equal((3, 0, 0L), (i.BlobsMounted, i.BlobsCopied, i.BytesCopied)));
        foreach (var target in new[] { fixture.TargetA, fixture.TargetB })
        {
            // The registry's access log: "POST /v2/rep2/b/blobs/uploads/?mount=sha256%3A…&from=rep2%2Fa HTTP/1.1" 201
            var mounts = target.ReadLog().Split('\n').Where(l => l.Contains("\"POST /v2/rep2/b/blobs/uploads/?mount=", StringComparison.Ordinal)).ToList();
            Assert.Equal(3, mounts.Count(l => l.Contains("&from=rep2%2Fa HTTP/1.1\" 201 ", StringComparison.Ordinal)));
            Assert.Equal(shared.Manifest.Digest, (await client.HeadManifestAsync(target.Host, "rep2/b", "v1"))!.Digest);
        }
    }

    [Fact]
    public async Task RunAsync_Delete_RemovesTagsTheSourceLostAndKeepsTagsSharingTheDigest()
    {
        using var client = new RegistryClient(RegistryFixture.Options());
        var first = TestImage.Create(300);
        await first.PushAsync(client, Source, "rep3/app", "v1");
        await client.PutManifestAsync(Source, "rep3/app", first.Manifest, "alias");
        await TestImage.Create(301).PushAsync(client, Source, "rep3/app", "v2");
        await TestImage.Create(302).PushAsync(client, Source, "rep3/gone", "v1");
        var replicator = Create(client, "rep3/**", o => o.Delete = true);
        var initial = await replicator.RunAsync(new ReplicationEndpoint(Source, ""));
        Assert.True(initial.Succeeded, string.Join("; ", initial.Images.Select(i => i.Error)));

        // The source loses v1 (but keeps alias, the same digest) and the whole rep3/gone repository.
        await client.DeleteManifestAsync(Source, "rep3/app", first.Manifest.Digest);
        await client.PutManifestAsync(Source, "rep3/app", first.Manifest, "alias");
        await client.DeleteManifestAsync(Source, "rep3/gone", (await client.HeadManifestAsync(Source, "rep3/gone", "v1"))!.Digest);
        var report = await replicator.RunAsync(new ReplicationEndpoint(Source, ""));

        Assert.True(report.Succeeded, string.Join("; ", report.Images.Select(i => i.Error)));
        Assert.Equal(4, report.Count(ReplicationStatus.Deleted));
        foreach (var target in new[] { fixture.TargetA.Host, fixture.TargetB.Host })
        {
            Assert.Equal(["alias", "v2"], (await client.ListTagsAsync(target, "rep3/app")).Order());
            Assert.Equal(first.Manifest.Digest, (await client.HeadManifestAsync(target, "rep3/app", "alias"))!.Digest);
            Assert.Empty(await client.ListTagsAsync(target, "rep3/gone"));
        }
    }

    [Fact]
    public async Task RunAsync_SourceAndTargetPrefixes_SelectAndMapRepositories()
    {
        using var client = new RegistryClient(RegistryFixture.Options());
        await TestImage.Create(400).PushAsync(client, Source, "rep4/app", "v1");
        await TestImage.Create(401).PushAsync(client, Source, "rep4x/app", "v1");
        var options = new ReplicationOptions();
        options.Targets.Add(ReplicationEndpoint.Parse($"{fixture.TargetA.Host}/mirror"));

        var report = await new Replicator(client, options).RunAsync(ReplicationEndpoint.Parse($"{Source}/rep4"));

        var only = Assert.Single(report.Images);
        Assert.Equal((ReplicationStatus.Copied, $"{fixture.TargetA.Host}/mirror/rep4/app:v1"), (only.Status, only.Target));
        Assert.NotNull(await client.HeadManifestAsync(fixture.TargetA.Host, "mirror/rep4/app", "v1"));
    }

    [Fact]
    public async Task RunAsync_LargeBlob_UploadedInChunksAndCapped()
    {
        using var client = new RegistryClient(RegistryFixture.Options(o =>
        {
            o.ChunkedUploadThreshold = 1024 * 1024;
            o.UploadChunkSize = 256 * 1024;
        }));
        var image = TestImage.Create(500, false, 3 * 1024 * 1024);
        await image.PushAsync(client, Source, "rep5/big", "v1");
        var limiter = new BandwidthLimiter(1L << 40);

        var report = await Create(client, "rep5/big", o => o.Bandwidth = limiter).RunAsync(new ReplicationEndpoint(Source, ""));

        Assert.True(report.Succeeded, string.Join("; ", report.Images.Select(i => i.Error)));
        Assert.Equal(report.BytesCopied, limiter.TotalBytes);
        int patches = fixture.TargetA.ReadLog().Split('\n').Count(l => l.Contains("http.request.method=PATCH", StringComparison.Ordinal) && l.Contains("/v2/rep5/big/blobs/uploads/", StringComparison.Ordinal));
        Assert.True(patches >= 12, $"{patches} PATCH requests");
        Assert.Equal(await RawAsync($"{Source}/rep5/big:v1"), await RawAsync($"{fixture.TargetA.Host}/rep5/big:v1"));
    }

    [Fact]
    public async Task ReplicateTagAsync_TagMissingAtSource_GoneForEveryTarget()
    {
        using var client = new RegistryClient(RegistryFixture.Options());
        await TestImage.Create(600).PushAsync(client, Source, "rep6/app", "v1");

        var results = await Create(client, "**").ReplicateTagAsync(Source, "rep6/app", "nope");

        Assert.Equal(2, results.Count);
        Assert.All(results, r => Assert.Equal(ReplicationStatus.Gone, r.Status));
    }

    [Fact]
    public async Task ReplicateTagAsync_TagNamesAnotherDigestThanExpected_MovedAndNothingCopied()
    {
        using var client = new RegistryClient(RegistryFixture.Options());
        var image = TestImage.Create(610);
        await image.PushAsync(client, Source, "rep6/moved", "v1");
        var replicator = Create(client, "**");

        var moved = await replicator.ReplicateTagAsync(Source, "rep6/moved", "v1", Digest.Compute("other"u8));
        var copied = await replicator.ReplicateTagAsync(Source, "rep6/moved", "v1", image.Manifest.Digest);

        Assert.All(moved, r => Assert.Equal((ReplicationStatus.Moved, (Digest?)image.Manifest.Digest), (r.Status, r.Digest)));
        Assert.All(copied, r => Assert.Equal(ReplicationStatus.Copied, r.Status));
    }

    [Fact]
    public async Task RunAsync_UnreachableTarget_FailedEntriesNotAnException()
    {
        using var client = new RegistryClient(RegistryFixture.Options(o => o.MaxRetries = 0));
        await TestImage.Create(700).PushAsync(client, Source, "rep7/app", "v1");
        var options = new ReplicationOptions { Filter = ReplicationFilter.Parse("rep7/app") };
        options.Targets.Add(new ReplicationEndpoint(fixture.TargetA.Host, ""));
        options.Targets.Add(new ReplicationEndpoint("127.0.0.1:1", ""));

        var report = await new Replicator(client, options).RunAsync(new ReplicationEndpoint(Source, ""));

        Assert.False(report.Succeeded);
        Assert.Equal(ReplicationStatus.Copied, report.Images.Single(i => i.Target.StartsWith(fixture.TargetA.Host, StringComparison.Ordinal)).Status);
        var failed = report.Images.Single(i => i.Status == ReplicationStatus.Failed);
        Assert.StartsWith("127.0.0.1:1/rep7/app:v1", failed.Target, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', failed.Error!);
    }

    [Fact]
    public async Task ListRepositoriesAsync_SmallPages_FollowsLinksToTheEnd()
    {
        using var client = new RegistryClient(RegistryFixture.Options());
        foreach (int i in Enumerable.Range(0, 5))
        {
            await TestImage.Create(800 + i).PushAsync(client, Source, $"rep8/r{i}", "v1");
        }

        var repositories = await client.ListRepositoriesAsync(Source, pageSize: 2);

        Assert.Equal(repositories.Count, repositories.Distinct().Count());
        Assert.Superset(Enumerable.Range(0, 5).Select(i => $"rep8/r{i}").ToHashSet(), repositories.ToHashSet());
        await Assert.ThrowsAsync<ContentTooLargeException>(() => client.ListRepositoriesAsync(Source, pageSize: 2, maxRepositories: 3));
    }

    private static Task<string> RawAsync(string reference)
        => ExternalTool.RunAsync("skopeo", ["inspect", "--tls-verify=false", "--raw", $"docker://{reference}"]);
}

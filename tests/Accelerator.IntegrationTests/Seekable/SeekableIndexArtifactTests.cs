using System.Text.Json;
using Accelerator.Hosting.Layout;
using Accelerator.IntegrationTests.Cli;
using Accelerator.Oci.Layout;
using Accelerator.Oci.Model;
using Accelerator.Oci.Referrers;
using Accelerator.Oci.Registry;
using Accelerator.Seekable.Gzip;
using Accelerator.Seekable.Index;
using Accelerator.Testing.Registry;

namespace Accelerator.IntegrationTests.Seekable;

/// <summary>
/// The seekable index as an OCI artifact on real registries: <c>accel index</c> on a real Debian image in
/// docker-registry 2.8 (no referrers API: the referrers tag), found again by <see cref="SeekableIndexFinder"/>; the
/// referrers API of our layout registry server; a private registry (htpasswd, token); an index pushed twice; carried by
/// <c>accel copy</c> and <c>accel replicate</c>; a forged artifact naming another subject ignored with a reason.
/// </summary>
public sealed class SeekableIndexArtifactTests(SeekableIndexFixture fixture) : IClassFixture<SeekableIndexFixture>
{
    [Fact]
    public async Task IndexCommand_CorpusImageOnDockerRegistry_FoundThroughTheReferrersTag()
    {
        var (code, output, error) = fixture.CorpusIndexRun;
        var store = fixture.Client.GetStore(fixture.A.Host);
        var manifest = await store.GetManifestAsync(fixture.Corpus);

        var (artifact, description) = await SeekableIndexFinder.FindAsync(store, fixture.Corpus, manifest.Descriptor);

        Assert.True(code == 0, error + output);
        string tag = ReferrersTagScheme.TagFor(manifest.Digest);
        Assert.Contains($"(referrers tag {tag})", output, StringComparison.Ordinal);
        Assert.Contains("total: index ", output, StringComparison.Ordinal);
        Assert.NotNull(artifact);
        Assert.StartsWith($"referrers tag {tag}: {artifact.Digest}", description, StringComparison.Ordinal);
        Assert.Contains(artifact.Digest.ToString(), output, StringComparison.Ordinal);
        var layer = Assert.Single(manifest.Manifest!.Layers);
        var index = await artifact.ReadLayerIndexAsync(layer);
        Assert.NotNull(index);
        Assert.Equal(GzipLayerIndex.GzipFormat, index.Format);
        Assert.Equal(layer.Digest, index.Layer.Digest);
        Assert.Contains(index.Entries, e => e.Header.Path.TrimStart('.', '/') == "usr/bin/dpkg");
        // The report names the layer with the spans the artifact holds.
        Assert.Contains($"gzip-index, {index.Units.Count} spans", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task IndexCommand_PushedTwice_TagListsEachOnceAndTheNewestWins()
    {
        var image = ImageReference.Parse($"{fixture.A.Host}/seekable/twice:v1");
        await fixture.CopyAsync(fixture.SampleInA.ToString(), image);
        var store = fixture.Client.GetStore(fixture.A.Host);
        var manifest = await fixture.ManifestAsync(store, image);

        var first = await CliRunner.RunAsync("--plain-http", "index", image.ToString(), "--min-layer-size", "0", "--span-size", "64K", "--json");
        var second = await CliRunner.RunAsync("--plain-http", "index", image.ToString(), "--min-layer-size", "0", "--span-size", "128K", "--json");
        Assert.True(first.ExitCode == 0, first.Error);
        Assert.True(second.ExitCode == 0, second.Error);
        var newest = Digest.Parse(JsonDocument.Parse(second.Out).RootElement.GetProperty("artifact").GetString()!);
        // Publishing the newest again changes nothing: the tag lists each artifact once.
        await ImageReferrers.PushAsync(store, image, await store.GetManifestAsync(image, newest));
        var listed = await ReferrersTagScheme.ReadAsync(store, image, manifest.Digest, null);
        var (found, _) = await SeekableIndexFinder.FindAsync(store, image, manifest);

        var older = Digest.Parse(JsonDocument.Parse(first.Out).RootElement.GetProperty("artifact").GetString()!);
        Assert.NotEqual(older, newest);
        Assert.Equal(new[] { older, newest }.Order(), listed.Select(d => d.Digest).Order());
        Assert.Equal(newest, found?.Digest);
        Assert.Equal(128 << 10, found?.SpanSize);
    }

    [Fact]
    public async Task CopyCommand_RegistryToRegistry_CarriesTheIndex()
    {
        var target = ImageReference.Parse($"{fixture.B.Host}/copied/sample:{SeekableIndexFixture.SampleTag}");

        var (code, output, error) = await CliRunner.RunAsync("--plain-http", "copy", fixture.SampleInA.ToString(), target.ToString());

        Assert.True(code == 0, error);
        Assert.Contains("1 referrer carried", output, StringComparison.Ordinal);
        await AssertIndexFoundAsync(fixture.Client.GetStore(fixture.B.Host), target, "referrers tag ");
    }

    [Fact]
    public async Task ReplicateCommand_RegistryToRegistry_CarriesTheIndex()
    {
        var target = ImageReference.Parse($"{fixture.B.Host}/{SeekableIndexFixture.SampleRepository}:{SeekableIndexFixture.SampleTag}");

        var (code, output, error) = await CliRunner.RunAsync(
            "replicate", "--plain-http", fixture.A.Host, fixture.B.Host, "--filter", $"{SeekableIndexFixture.SampleRepository}:{SeekableIndexFixture.SampleTag}");

        Assert.True(code == 0, error + output);
        await AssertIndexFoundAsync(fixture.Client.GetStore(fixture.B.Host), target, "referrers tag ");
    }

    [Fact]
    public async Task FindAsync_LayoutRegistryServer_FoundThroughTheReferrersApi()
    {
        string directory = Path.Combine(fixture.WorkDirectory, "served-" + Guid.NewGuid().ToString("N")[..8]);
        var copy = await fixture.CopyAsync(fixture.SampleInA.ToString(), ImageReference.Parse($"oci:{directory}:{SeekableIndexFixture.SampleTag}"), referrers: true);
        Assert.Equal(1, copy.Referrers);
        await using var server = await OciLayoutRegistryServer.StartAsync(OciImageLayout.Open(directory), new OciLayoutRegistryServerOptions { Repository = "served/sample" });
        using var client = new RegistryClient(TestRegistryOptions.Create());
        var store = client.GetStore(server.Host);
        var image = server.GetReference(SeekableIndexFixture.SampleTag);
        var manifest = await fixture.ManifestAsync(store, image);

        var api = await client.GetReferrersAsync(server.Host, "served/sample", manifest.Digest, SeekableIndexArtifact.ArtifactType);
        var none = await client.GetReferrersAsync(server.Host, "served/sample", manifest.Digest, "application/vnd.example.other");

        Assert.NotNull(api);
        Assert.Equal(SeekableIndexArtifact.ArtifactType, Assert.Single(api).ArtifactType);
        Assert.NotNull(none);
        Assert.Empty(none);
        await AssertIndexFoundAsync(store, image, ImageReferrers.ApiSource + ": ");
    }

    [Theory]
    [InlineData(RegistryAuthMode.Basic)]
    [InlineData(RegistryAuthMode.Token)]
    public async Task IndexCommand_PrivateRegistry_PublishedAndFoundWithCredentials(RegistryAuthMode mode)
    {
        var host = fixture.Private.Get(mode).Host;
        var image = ImageReference.Parse($"{host}/private/seekable:{SeekableIndexFixture.SampleTag}");
        await Oci.Copying.ImageCopier.CopyAsync(
            OciImageLayout.Open(fixture.Sample.LayoutPath), ImageReference.Parse(fixture.Sample.OciReference), fixture.Private.Client.GetStore(host), image);

        var (code, output, error) = await CliRunner.RunAsync(
            "--plain-http", "--auth-file", fixture.Private.AuthFile, "index", image.ToString(), "--min-layer-size", "0", "--span-size", "64K");

        Assert.True(code == 0, error + output);
        Assert.Contains("referrers tag sha256-", output, StringComparison.Ordinal);
        await AssertIndexFoundAsync(fixture.Private.Client.GetStore(host), image, "referrers tag ");
    }

    [Fact]
    public async Task FindAsync_ForgedArtifactNamingAnotherSubject_IgnoredWithReason()
    {
        var image = ImageReference.Parse($"{fixture.A.Host}/seekable/forged:v1");
        await fixture.CopyAsync(fixture.SampleInA.ToString(), image);
        var store = fixture.Client.GetStore(fixture.A.Host);
        var manifest = await fixture.ManifestAsync(store, image);
        var (genuine, _) = await SeekableIndexFinder.FindAsync(store, fixture.SampleInA, manifest);
        Assert.NotNull(genuine);
        // The genuine artifact's blobs, re-aimed at another manifest, listed under this manifest's referrers tag.
        var other = await fixture.ManifestAsync(store, fixture.Corpus);
        var forged = ManifestDocument.From(genuine.Manifest.Manifest! with { Subject = other });
        await Oci.Copying.ImageCopier.CopyAsync(store, fixture.SampleInA.WithDigest(genuine.Digest), store, image.WithDigest(genuine.Digest), new() { Referrers = false });
        await store.PushManifestAsync(image, forged, null);
        await ReferrersTagScheme.AddAsync(store, image, manifest.Digest, ReferrersIndex.DescribeReferrer(forged));

        var (found, description) = await SeekableIndexFinder.FindAsync(store, image, manifest);

        Assert.Null(found);
        Assert.Contains($"{forged.Digest} ignored: its subject is {other.Digest}, not {manifest.Digest}", description, StringComparison.Ordinal);
    }

    private async Task AssertIndexFoundAsync(IImageStore store, ImageReference image, string how)
    {
        var manifest = await store.GetManifestAsync(image);
        var (artifact, description) = await SeekableIndexFinder.FindAsync(store, image, manifest.Descriptor);

        Assert.True(artifact is not null, description);
        Assert.StartsWith(how, description, StringComparison.Ordinal);
        Assert.Equal(fixture.SampleReport.Layers.Count(l => l.Indexed), artifact.LayerIndexes.Count);
        foreach (var layer in manifest.Manifest!.Layers)
        {
            var index = await artifact.ReadLayerIndexAsync(layer);
            Assert.NotNull(index);
            Assert.Equal(layer.Digest, index.Layer.Digest);
            Assert.NotEmpty(index.Units);
        }
    }
}

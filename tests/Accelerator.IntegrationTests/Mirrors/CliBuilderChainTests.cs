using System.CommandLine;
using Accelerator.Cli;
using Accelerator.Oci;
using Accelerator.Oci.Mirrors;
using Accelerator.Oci.Pulling;
using Microsoft.Extensions.DependencyInjection;

namespace Accelerator.IntegrationTests.Mirrors;

/// <summary>
/// The CLI builds one blob-source chain, the builder's: its flags become builder calls, and every command takes its image
/// stores from the built accelerator. Checked against real registries (an origin and a mirror) and their access logs.
/// </summary>
public sealed class CliBuilderChainTests(MirrorRegistriesFixture fixture) : IClassFixture<MirrorRegistriesFixture>
{
    [Fact]
    public async Task CreateBuilder_MirrorFlag_StrategiesAndCommandsShareTheBuildersChainAndReadTheMirror()
    {
        var (common, parsed) = Parse("--plain-http", "--mirror", fixture.Mirror.Url.ToString());
        int mirrorBefore = BlobGets(fixture.Mirror), originBefore = BlobGets(fixture.Origin);

        await using var accelerator = common.CreateBuilder(parsed).UseFullPull().Build();
        var stores = CommonOptions.GetStores(accelerator);
        await using var mounted = await accelerator.MountAsync(ImageReference.Parse(fixture.Image), Target());

        // One chain: the resolver the commands use is the one the strategies use, over the builder's mirror sets.
        Assert.Same(accelerator.Services.GetRequiredService<MirroredRegistries>(), stores.Mirrors);
        Assert.Equal([$"mirror:{fixture.Mirror.Host}"], mounted.Statistics.BytesFetchedBySource.Keys);
        Assert.True(BlobGets(fixture.Mirror) > mirrorBefore, "the mirror served no blob");
        Assert.Equal(originBefore, BlobGets(fixture.Origin));
    }

    [Fact]
    public async Task CreateBuilder_MirrorsConfiguredOnTheBuilder_CommandStoresReadTheMirror()
    {
        // Before, the CLI registered a resolver of its own over the builder's: mirrors (or P2P) configured on the builder
        // were silently bypassed by every command. The flags name no mirror here; the builder does.
        var (common, parsed) = Parse("--plain-http");
        int mirrorBefore = BlobGets(fixture.Mirror), originBefore = BlobGets(fixture.Origin);

        await using var accelerator = common.CreateBuilder(parsed).AddMirror(fixture.Origin.Host, fixture.Mirror.Url.ToString()).Build();
        var stores = CommonOptions.GetStores(accelerator);
        var reference = ImageReference.Parse(fixture.Image);
        var pulled = await ImagePuller.PullAsync(stores.GetStore(reference), reference, Target(), new PullOptions());

        Assert.NotNull(stores.Mirrors);
        Assert.Equal([$"mirror:{fixture.Mirror.Host}"], pulled.BytesFetchedBySource.Keys);
        Assert.True(BlobGets(fixture.Mirror) > mirrorBefore, "the mirror served no blob");
        Assert.Equal(originBefore, BlobGets(fixture.Origin));
    }

    [Fact]
    public async Task CreateBuilder_P2PFlag_CommandStoresReadThroughThePeerProxy()
    {
        var (common, parsed) = Parse("--plain-http", "--p2p", "http://127.0.0.1:65001");

        await using var accelerator = common.CreateBuilder(parsed).Build();

        Assert.Same(accelerator.Services.GetRequiredService<IRegistryBlobSourceDecorator>(), CommonOptions.GetStores(accelerator).BlobDecorator);
    }

    private static (CommonOptions Common, ParseResult Result) Parse(params string[] args)
    {
        var common = new CommonOptions();
        var root = new RootCommand();
        common.AddTo(root);
        var result = root.Parse(args);
        Assert.Empty(result.Errors);
        return (common, result);
    }

    // Blob GETs the registry answered, from its access log.
    private static int BlobGets(Testing.Registry.DockerRegistryProcess registry)
        => registry.ReadLog().Split('\n').Count(line => line.Contains("response completed", StringComparison.Ordinal)
            && line.Contains("http.request.method=GET", StringComparison.Ordinal)
            && line.Contains("/blobs/sha256:", StringComparison.Ordinal));

    private string Target() => Path.Combine(fixture.WorkDirectory, "target-" + Guid.NewGuid().ToString("N"));
}

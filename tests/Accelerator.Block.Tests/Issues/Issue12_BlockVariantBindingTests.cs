using System.Text.Json.Nodes;
using Accelerator.Block.Mounting;
using Accelerator.Block.Tests.Support;
using Accelerator.Oci;
using Accelerator.Oci.Layout;
using Accelerator.Oci.Model;
using Accelerator.Oci.Registry;
using Accelerator.Testing.Images;

namespace Accelerator.Block.Tests.Issues;

/// <summary>
/// Issue 12, B16: a block mount parses the file system of the block image it finds beside the tag the caller asked for;
/// that image must be the conversion of the manifest the tag names now (its source-digest annotation), or the kernel
/// mounts another image's disk — a stale conversion, or one pushed beside someone else's tag.
/// </summary>
[Collection(BlockCollection.Name)]
public sealed class Issue12_BlockVariantBindingTests(BlockFixture fixture) : IDisposable
{
    private readonly RegistryClient _client = new(new RegistryOptions { PlainHttp = true });
    private readonly string _work = fixture.NewDirectory("issue12-binding");

    public void Dispose()
    {
        _client.Dispose();
        Directory.Delete(_work, recursive: true);
    }

    [Fact]
    public async Task CanMountAsync_VariantBesideTagConvertedFromAnotherManifest_RefusedNamingBothDigests()
    {
        string layoutDirectory = Path.Combine(_work, "layout");
        await ExternalTool.RunAsync("cp", ["-r", fixture.BlockLayout, layoutDirectory]);
        await ExternalTool.RunAsync("skopeo", ["copy", fixture.Image.OciReference, $"oci:{layoutDirectory}:conformance"]);
        var layout = OciImageLayout.Open(layoutDirectory);
        // "victim" names another manifest of the same layers (an annotation more); "victim-accel-block" is the
        // conversion of "conformance", not of it.
        var source = await layout.GetManifestAsync(ImageReference.Parse($"oci:{layoutDirectory}:conformance"));
        var edited = JsonNode.Parse(source.Bytes.Span)!.AsObject();
        edited["annotations"] = new JsonObject { ["org.opencontainers.image.revision"] = "v2" };
        var victim = ManifestDocument.Parse(System.Text.Encoding.UTF8.GetBytes(edited.ToJsonString()));
        await layout.PushManifestAsync(victim, "victim", default);
        await layout.TagAsync(await layout.ResolveTagAsync(BlockFixture.BlockTag), "victim-accel-block");
        var options = new BlockMountOptions { StateDirectory = _work, CacheDirectory = Path.Combine(_work, "cache") };
        var mounter = new BlockMounter([new BlockImageOpener(new ImageStoreResolver(_client), options)], options);

        var (canMount, reason) = await mounter.CanMountAsync(ImageReference.Parse($"oci:{layoutDirectory}:victim"));

        Assert.False(canMount);
        Assert.Contains(fixture.Converted.SourceDigest.ToString(), reason, StringComparison.Ordinal);
        Assert.Contains(victim.Digest.ToString(), reason, StringComparison.Ordinal);
        var (stillMountable, why) = await mounter.CanMountAsync(ImageReference.Parse($"oci:{layoutDirectory}:conformance"));
        Assert.True(stillMountable, why);
    }
}

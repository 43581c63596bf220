using System.Text.Json.Nodes;
using Accelerator.Lazy.Format;
using Accelerator.Lazy.Tests.Mounting;
using Accelerator.Lazy.Tests.Support;
using Accelerator.Oci.Layout;
using Accelerator.Oci.Model;
using Accelerator.Oci.Registry;
using Accelerator.Testing.Images;

namespace Accelerator.Lazy.Tests.Issues;

/// <summary>
/// Issue 12 (B16, as found for block by the review, and equally true of lazy images): a lazy mount serves the files of
/// the lazy image it finds beside the tag the caller asked for, so that image must be the conversion of the manifest
/// the tag names now (its source-digest annotation) — not a stale conversion, nor one pushed beside another image's tag.
/// </summary>
[Collection(LazyCollection.Name)]
public sealed class Issue12_LazyVariantBindingTests(LazyFixture fixture) : IDisposable
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
        await ExternalTool.RunAsync("cp", ["-a", fixture.Image.LayoutPath, layoutDirectory]);
        var source = ImageReference.Parse($"oci:{layoutDirectory}:{fixture.Image.Tag}");
        await LazyMountHarness.ConvertBesideAsync(source);
        var layout = OciImageLayout.Open(layoutDirectory);
        // "victim" names another manifest of the same layers (an annotation more); "victim-accel" is the conversion of
        // the conformance image, not of it.
        var original = await layout.GetManifestAsync(source);
        var edited = JsonNode.Parse(original.Bytes.Span)!.AsObject();
        edited["annotations"] = new JsonObject { ["org.opencontainers.image.revision"] = "v2" };
        var victim = ManifestDocument.Parse(System.Text.Encoding.UTF8.GetBytes(edited.ToJsonString()));
        await layout.PushManifestAsync(victim, "victim", default);
        await layout.TagAsync(await layout.ResolveTagAsync($"{fixture.Image.Tag}{LazyFormat.TagSuffix}"), $"victim{LazyFormat.TagSuffix}");
        var mounter = LazyMountHarness.CreateMounter(_client, _work);

        var (canMount, reason) = await mounter.CanMountAsync(ImageReference.Parse($"oci:{layoutDirectory}:victim"));

        Assert.False(canMount);
        Assert.Contains(original.Digest.ToString(), reason, StringComparison.Ordinal);
        Assert.Contains(victim.Digest.ToString(), reason, StringComparison.Ordinal);
        var (stillMountable, why) = await mounter.CanMountAsync(source);
        Assert.True(stillMountable, why);
    }
}

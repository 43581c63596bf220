using System.Text;
using System.Text.Json;
using Accelerator.Oci.Layout;
using Accelerator.Oci.Model;

namespace Accelerator.Oci.Tests.Layout;

/// <summary>Layouts made by umoci are read by us; layouts we write are read by skopeo and umoci.</summary>
public sealed class OciImageLayoutInteropTests : IDisposable
{
    private const string GreetingPath = "greeting.txt";
    private const string GreetingText = "written by umoci repack\n";
    private readonly TempDirectory _directory = new();

    public void Dispose() => _directory.Dispose();

    /// <summary>umoci init + new + unpack, a file added to the rootfs, umoci repack: a one-layer image.</summary>
    private async Task<string> CreateUmociImageAsync(string tag)
    {
        string layout = _directory.Combine("umoci");
        string bundle = _directory.Combine("umoci-bundle");
        await ExternalTool.RunAsync("umoci", "init", "--layout", layout);
        await ExternalTool.RunAsync("umoci", "new", "--image", $"{layout}:{tag}");
        await ExternalTool.RunAsync("umoci", "unpack", "--image", $"{layout}:{tag}", bundle);
        await File.WriteAllTextAsync(Path.Combine(bundle, "rootfs", GreetingPath), GreetingText);
        await ExternalTool.RunAsync("umoci", "repack", "--image", $"{layout}:{tag}", bundle);
        return layout;
    }

    [Fact]
    public async Task GetManifestAsync_UmociLayout_ManifestConfigAndLayersVerified()
    {
        string dir = await CreateUmociImageAsync("v1");
        var layout = OciImageLayout.Open(dir);

        Assert.Equal(["v1"], await layout.ListTagsAsync());
        var document = await layout.GetManifestAsync(ImageReference.Parse($"oci:{dir}:v1"));
        var manifest = Assert.IsType<ImageManifest>(document.Manifest);
        Assert.Equal(MediaTypes.OciManifest, document.MediaType);

        byte[] configBytes = await layout.Blobs.ReadAllBytesAsync(new BlobAddress("", manifest.Config.Digest, manifest.Config.Size), 1 << 20);
        var config = OciJson.Deserialize<ImageConfig>(configBytes, "config");
        Assert.Equal(manifest.Layers.Count, config.Rootfs!.DiffIds.Count);

        var layer = Assert.Single(manifest.Layers);
        Assert.Equal(MediaTypes.OciLayerGzip, layer.MediaType);
        byte[] layerBytes = await layout.Blobs.ReadAllBytesAsync(new BlobAddress("", layer.Digest, layer.Size), 64 << 20);
        var files = await TestImages.ReadLayerFilesAsync(new MemoryStream(layerBytes));
        Assert.Equal(GreetingText, Encoding.UTF8.GetString(files[GreetingPath]));

        // The uncompressed layer hashes to the config's diff_id.
        using var gzip = new System.IO.Compression.GZipStream(new MemoryStream(layerBytes), System.IO.Compression.CompressionMode.Decompress);
        Assert.Equal(config.Rootfs.DiffIds[0], await Digest.ComputeAsync(gzip));
    }

    [Fact]
    public async Task PushAsync_ImageCopiedFromUmociLayout_AcceptedBySkopeoAndUmoci()
    {
        string umociDir = await CreateUmociImageAsync("src");
        string ourDir = _directory.Combine("ours");
        var source = OciImageLayout.Open(umociDir);
        var destination = OciImageLayout.Create(ourDir);

        var copied = await TestImages.CopyAsync(source, ImageReference.Parse($"oci:{umociDir}:src"), destination, ImageReference.Parse($"oci:{ourDir}:copy"), "copy");

        // skopeo inspects the image and reports the manifest digest we wrote.
        using (var inspect = JsonDocument.Parse(await ExternalTool.RunAsync("skopeo", "inspect", $"oci:{ourDir}:copy")))
        {
            Assert.Equal(copied.Digest.ToString(), inspect.RootElement.GetProperty("Digest").GetString());
            Assert.Equal("linux", inspect.RootElement.GetProperty("Os").GetString());
        }

        // skopeo copies it to another layout, which we read back.
        string skopeoDir = _directory.Combine("skopeo-copy");
        await ExternalTool.RunAsync("skopeo", "copy", $"oci:{ourDir}:copy", $"oci:{skopeoDir}:again");
        var again = await OciImageLayout.Open(skopeoDir).GetManifestAsync(ImageReference.Parse($"oci:{skopeoDir}:again"));
        Assert.Equal(copied.Manifest!.Layers.Select(l => l.Digest), again.Manifest!.Layers.Select(l => l.Digest));

        // umoci unpacks it, and the file umoci put in the original is there with its content.
        string bundle = _directory.Combine("unpacked");
        await ExternalTool.RunAsync("umoci", "unpack", "--image", $"{ourDir}:copy", bundle);
        Assert.Equal(GreetingText, await File.ReadAllTextAsync(Path.Combine(bundle, "rootfs", GreetingPath)));
    }

    [Fact]
    public async Task PushManifestAsync_MultiPlatformIndex_ReadBackAndSelectedByUsAndSkopeo()
    {
        string dir = _directory.Combine("multi");
        var layout = OciImageLayout.Create(dir);
        var image = ImageReference.Parse($"oci:{dir}:multi");
        var amd64 = TestImages.Build(Platform.LinuxAmd64, new Dictionary<string, string> { ["arch"] = "amd64" });
        var arm64 = TestImages.Build(Platform.LinuxArm64, new Dictionary<string, string> { ["arch"] = "arm64" });
        await TestImages.PushAsync(layout, image, amd64, null);
        await TestImages.PushAsync(layout, image, arm64, null);
        var index = ManifestDocument.From(new ImageIndex
        {
            Manifests =
            [
                amd64.Manifest.Descriptor with { Platform = Platform.LinuxAmd64 },
                arm64.Manifest.Descriptor with { Platform = Platform.LinuxArm64 },
            ],
        });
        await layout.PushManifestAsync(image, index, "multi");

        var read = await OciImageLayout.Open(dir).GetManifestAsync(image);
        Assert.True(read.IsIndex);
        Assert.Equal(index.Digest, read.Digest);
        var selected = read.Index!.SelectPlatform(Platform.Parse("linux/aarch64"));
        Assert.NotNull(selected);
        Assert.Equal(arm64.Manifest.Digest, selected.Digest);
        var armManifest = await layout.GetManifestAsync(image, selected.Digest);
        var layer = armManifest.Manifest!.Layers.Single();
        var files = await TestImages.ReadLayerFilesAsync(new MemoryStream(await layout.Blobs.ReadAllBytesAsync(new BlobAddress("", layer.Digest, layer.Size), 1 << 20)));
        Assert.Equal("arm64", Encoding.UTF8.GetString(files["arch"]));
        Assert.Equal(amd64.Manifest.Digest, read.Index.SelectPlatform(Platform.Parse("linux/x86_64"))!.Digest);
        Assert.Null(read.Index.SelectPlatform(Platform.Parse("linux/s390x")));

        // skopeo resolves the index to the platform manifest it is asked for.
        using var inspect = JsonDocument.Parse(await ExternalTool.RunAsync("skopeo", "--override-arch", "arm64", "--override-os", "linux", "inspect", $"oci:{dir}:multi"));
        Assert.Equal("arm64", inspect.RootElement.GetProperty("Architecture").GetString());
        // skopeo reports the digest of what the tag names (the index) and the layers of the platform's manifest.
        Assert.Equal(index.Digest.ToString(), inspect.RootElement.GetProperty("Digest").GetString());
        Assert.Equal(arm64.Manifest.Manifest!.Layers[0].Digest.ToString(), inspect.RootElement.GetProperty("Layers")[0].GetString());

        // And copies the whole index, every platform included.
        string all = _directory.Combine("all");
        await ExternalTool.RunAsync("skopeo", "copy", "--all", $"oci:{dir}:multi", $"oci:{all}:multi");
        var copiedIndex = await OciImageLayout.Open(all).GetManifestAsync(ImageReference.Parse($"oci:{all}:multi"));
        Assert.Equal(2, copiedIndex.Index!.Manifests.Count);
    }
}

using System.Text.Json;

namespace Accelerator.Cli.Tests.Commands;

public sealed class InspectCommandTests(SampleLayout sample) : IClassFixture<SampleLayout>
{
    [Fact]
    public async Task Inspect_Layout_PrintsTheManifestsLayers()
    {
        var run = await Accel.RunAsync("inspect", sample.Reference);

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Equal(string.Empty, run.Error);
        using var printed = JsonDocument.Parse(run.Out);
        // The manifest as stored in the layout, read without the library.
        using var manifest = JsonDocument.Parse(await File.ReadAllBytesAsync(
            Path.Combine(sample.Image.LayoutPath, "blobs", "sha256", sample.Image.Manifest.Digest.Encoded)));
        var root = printed.RootElement;
        Assert.Equal(sample.Image.Manifest.Digest.ToString(), root.GetProperty("digest").GetString());
        Assert.Equal("oci", root.GetProperty("format").GetString());
        Assert.Equal("linux/amd64", root.GetProperty("platform").GetString());
        Assert.Equal(
            manifest.RootElement.GetProperty("layers").EnumerateArray().Select(l => (l.GetProperty("digest").GetString(), l.GetProperty("size").GetInt64())),
            root.GetProperty("layers").EnumerateArray().Select(l => (l.GetProperty("digest").GetString(), l.GetProperty("size").GetInt64())));
        Assert.Equal(
            manifest.RootElement.GetProperty("config").GetProperty("digest").GetString(),
            root.GetProperty("config").GetProperty("digest").GetString());
        Assert.Equal(sample.Image.Layers.Sum(l => l.Size), root.GetProperty("totalLayerSize").GetInt64());
    }

    [Fact]
    public async Task Inspect_PlatformTheImageIsNotFor_ClearError()
    {
        var run = await Accel.RunAsync("inspect", "--platform", "linux/s390x", sample.Reference);

        Assert.Equal(1, run.ExitCode);
        Assert.Equal(string.Empty, run.Out);
        Assert.Contains("no image for platform linux/s390x", Assert.Single(run.ErrorLines));
    }

    [Fact]
    public async Task Inspect_UnknownTag_OneErrorLine()
    {
        var run = await Accel.RunAsync("inspect", $"oci:{sample.Image.LayoutPath}:nope");

        Assert.Equal(1, run.ExitCode);
        Assert.Contains("nope", Assert.Single(run.ErrorLines));
    }
}

using System.Text.Json;
using Accelerator.Testing.Images;

namespace Accelerator.Cli.Tests.Commands;

public sealed class CopyCommandTests(SampleLayout sample) : IClassFixture<SampleLayout>
{
    [Fact]
    public async Task Copy_LayoutToLayout_SkopeoReadsTheCopyWithTheSameDigest()
    {
        string target = sample.NewPath("copy");

        var run = await Accel.RunAsync("copy", sample.Reference, $"oci:{target}:t");

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Contains($"({sample.Image.Manifest.Digest})", run.Out);
        Assert.Contains($"{sample.Image.Layers.Count + 1} blobs copied", run.Out);
        using var inspected = JsonDocument.Parse(await OciLayoutTools.InspectAsync(target, "t"));
        Assert.Equal(sample.Image.Manifest.Digest.ToString(), inspected.RootElement.GetProperty("Digest").GetString());
        Assert.Equal(sample.Image.Layers.Select(l => l.Digest.ToString()), inspected.RootElement.GetProperty("Layers").EnumerateArray().Select(l => l.GetString()));
        string original = await ExternalTool.RunAsync("skopeo", ["inspect", "--raw", sample.Reference]);
        string copied = await ExternalTool.RunAsync("skopeo", ["inspect", "--raw", $"oci:{target}:t"]);
        Assert.Equal(original, copied);
    }

    [Fact]
    public async Task Copy_Twice_SecondCopiesNothing()
    {
        string target = $"oci:{sample.NewPath("again")}:t";
        await Accel.RunAsync("copy", sample.Reference, target);

        var run = await Accel.RunAsync("copy", sample.Reference, target);

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Contains("0 blobs copied", run.Out);
    }

    [Fact]
    public async Task Copy_SourceMissing_OneErrorLineAndNoTarget()
    {
        string target = sample.NewPath("never");

        var run = await Accel.RunAsync("copy", $"oci:{sample.NewPath("missing")}:t", $"oci:{target}:t");

        Assert.Equal(1, run.ExitCode);
        Assert.StartsWith("accel: error: ", Assert.Single(run.ErrorLines));
        Assert.False(Directory.Exists(target));
    }
}

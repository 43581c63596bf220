using Accelerator.Testing.Images;
using Accelerator.Testing.Processes;

namespace Accelerator.IntegrationTests.Containerd;

/// <summary>
/// <c>accel containerd pull --snapshotter accel</c> through the real <c>accel snapshotter</c>: for an image with a lazy
/// variant the snapshotter answers every layer's Prepare itself (a remote snapshot), so no layer blob is fetched, and
/// <c>ctr run --snapshotter accel</c> runs the image's program on the snapshotter's mounts; an image without variant is
/// fetched and applied by containerd onto the snapshotter's ordinary snapshots and runs as well.
/// </summary>
public sealed class ContainerdPullAccelTests(ContainerdPullAccelFixture fixture) : IClassFixture<ContainerdPullAccelFixture>
{
    [Fact]
    public async Task Pull_ImageWithLazyVariant_NoLayerBlobFetchedAndCtrRunRunsPython()
    {
        // The conversion read the source layers; from here on nothing may.
        int before = fixture.BlobGets(fixture.Layers);
        var (exit, output, error) = await AccelProcess.RunAsync(
            "containerd", "pull", fixture.Reference.ToString(),
            "--address", fixture.Containerd.Address,
            "--namespace", fixture.Containerd.Namespace,
            "--plain-http");

        Assert.True(exit == 0, $"accel containerd pull failed ({exit}): {error}\n{output}\nsnapshotter: {fixture.Snapshotter.Error}");
        Assert.Equal(fixture.Image.LayerCount, output.Split('\n').Count(l => l.StartsWith("layer ", StringComparison.Ordinal) && l.Contains(": remote", StringComparison.Ordinal)));
        Assert.Contains(" 0 B fetched", output, StringComparison.Ordinal);
        Assert.Equal(before, fixture.BlobGets(fixture.Layers));

        string run = await fixture.Containerd.CtrAsync(
            ["run", "--rm", "--snapshotter", "accel", fixture.Reference.ToString(), "ctrpull-accel-" + Guid.NewGuid().ToString("N")[..12], .. fixture.Image.Command]);
        foreach (string expected in fixture.Image.ExpectedOutput)
        {
            Assert.Contains(expected, run, StringComparison.Ordinal);
        }

        // The container ran on the lazy mount: still no layer blob fetched.
        Assert.Equal(before, fixture.BlobGets(fixture.Layers));
    }
    [Fact]
    public async Task Pull_UnconvertedImage_FetchedAppliedThroughTheSnapshotterAndCtrRunRuns()
    {
        var image = await DebianImageCorpus.GetAsync(DebianImageCorpus.PythonNginx);
        await image.PushAsync(fixture.Registry.Host, "corpus/python-nginx");
        string reference = $"{fixture.Registry.Host}/corpus/python-nginx:{image.Tag}";

        var (exit, output, error) = await AccelProcess.RunAsync(
            "containerd", "pull", reference,
            "--address", fixture.Containerd.Address,
            "--namespace", fixture.Containerd.Namespace,
            "--plain-http");

        // No variant: the snapshotter leaves the layer to containerd, which applies what accel fetched onto its mounts.
        Assert.True(exit == 0, $"accel containerd pull failed ({exit}): {error}\n{output}");
        Assert.Equal(image.LayerCount, output.Split('\n').Count(l => l.StartsWith("layer ", StringComparison.Ordinal) && l.Contains("and applied", StringComparison.Ordinal)));
        string run = await fixture.Containerd.CtrAsync(
            ["run", "--rm", "--snapshotter", "accel", reference, "ctrpull-plain-" + Guid.NewGuid().ToString("N")[..12], .. image.Command]);
        foreach (string expected in image.ExpectedOutput)
        {
            Assert.Contains(expected, run, StringComparison.Ordinal);
        }
    }
}

using Accelerator.Testing.Processes;

namespace Accelerator.IntegrationTests.Containerd;

/// <summary>
/// <c>accel containerd pull --snapshotter accel</c> through the real <c>accel snapshotter</c>: for an image with a lazy
/// variant the snapshotter answers every layer's Prepare itself (a remote snapshot), so no layer blob is fetched, and
/// <c>ctr run --snapshotter accel</c> runs the image's program on the snapshotter's mounts.
/// </summary>
public sealed class ContainerdPullAccelTests(ContainerdPullAccelFixture fixture) : IClassFixture<ContainerdPullAccelFixture>
{
    [Fact]
    public async Task Pull_ImageWithLazyVariant_NoLayerBlobFetchedAndCtrRunRunsPython()
    {
        var (exit, output, error) = await AccelProcess.RunAsync(
            "containerd", "pull", fixture.Reference.ToString(),
            "--address", fixture.Containerd.Address,
            "--namespace", fixture.Containerd.Namespace,
            "--plain-http");

        Assert.True(exit == 0, $"accel containerd pull failed ({exit}): {error}\n{output}\nsnapshotter: {fixture.Snapshotter.Error}");
        Assert.Equal(fixture.Image.LayerCount, output.Split('\n').Count(l => l.StartsWith("layer ", StringComparison.Ordinal) && l.Contains(": remote", StringComparison.Ordinal)));
        Assert.Contains(" 0 B fetched", output, StringComparison.Ordinal);
        Assert.Equal(0, fixture.BlobGets(fixture.Layers));

        string run = await fixture.Containerd.CtrAsync(
            ["run", "--rm", "--snapshotter", "accel", fixture.Reference.ToString(), "ctrpull-accel-" + Guid.NewGuid().ToString("N")[..12], .. fixture.Image.Command]);
        foreach (string expected in fixture.Image.ExpectedOutput)
        {
            Assert.Contains(expected, run, StringComparison.Ordinal);
        }

        // The container ran on the lazy mount: still no layer blob fetched.
        Assert.Equal(0, fixture.BlobGets(fixture.Layers));
    }
}

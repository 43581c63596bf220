using Accelerator.Testing.Processes;

namespace Accelerator.IntegrationTests.Containerd;

/// <summary>
/// Pulling a converted reference directly (<c>app:TAG-accel</c>) with <c>accel containerd pull --snapshotter accel</c>:
/// containerd could not apply the variant's blobs, so the snapshotter must serve every layer itself (lazily, from the
/// variant it was asked for); no layer blob of the source image is fetched and <c>ctr run</c> starts the image's
/// program on the snapshotter's mount. (Through the CRI plugin this cannot work: containerd 1.6's unpacker refuses the
/// variant before asking the snapshotter; pull the source tag there, the snapshotter finds the variant.)
/// </summary>
public sealed class ConvertedReferencePullTests(ContainerdPullAccelFixture fixture) : IClassFixture<ContainerdPullAccelFixture>
{
    [Fact]
    public async Task Pull_ConvertedReference_EveryLayerRemoteAndCtrRunRuns()
    {
        string converted = $"{fixture.Registry.Host}/{ContainerdPullAccelFixture.Repository}:{fixture.Image.Tag}-accel";
        int before = fixture.BlobGets(fixture.Layers);

        var (exit, output, error) = await AccelProcess.RunAsync(
            "containerd", "pull", converted,
            "--address", fixture.Containerd.Address,
            "--namespace", fixture.Containerd.Namespace,
            "--plain-http");

        Assert.True(exit == 0, $"accel containerd pull failed ({exit}): {error}\n{output}\nsnapshotter: {fixture.Snapshotter.Error}");
        var layerLines = output.Split('\n').Where(l => l.StartsWith("layer ", StringComparison.Ordinal)).ToList();
        Assert.NotEmpty(layerLines);
        Assert.All(layerLines, line => Assert.Contains(": remote", line, StringComparison.Ordinal));
        Assert.Equal(before, fixture.BlobGets(fixture.Layers));

        var (statusExit, status, statusError) = await AccelProcess.RunAsync("snapshotter", "status", "--address", fixture.SnapshotterAddress, "--json");
        Assert.True(statusExit == 0, statusError);
        Assert.Contains("\"strategy\":\"lazy\"", status, StringComparison.Ordinal);

        string run = await fixture.Containerd.CtrAsync(
            ["run", "--rm", "--snapshotter", "accel", converted, "converted-" + Guid.NewGuid().ToString("N")[..12], .. fixture.Image.Command]);
        Assert.All(fixture.Image.ExpectedOutput, expected => Assert.Contains(expected, run, StringComparison.Ordinal));
        Assert.Equal(before, fixture.BlobGets(fixture.Layers));
    }
}

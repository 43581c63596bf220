using Accelerator.Testing.Images;
using Accelerator.Testing.Processes;

namespace Accelerator.IntegrationTests.Containerd;

/// <summary>
/// An image whose base layer the node already has (unpacked by containerd for another image, so adopted into the
/// snapshot store) and that has a lazy variant is served lazily above that base: the snapshot cache must not "top up"
/// the shared prefix by downloading the image's other layers in full (its default for <c>accel cache mount</c>), which
/// would turn every lazy start of an image sharing a base with anything pulled before into a full download.
/// </summary>
public sealed class SharedBaseLayerTests(ContainerdPullAccelFixture fixture) : IClassFixture<ContainerdPullAccelFixture>
{
    [Fact]
    public async Task Pull_BaseAlreadyUnpacked_UpperLayersServedLazilyWithoutDownload()
    {
        var minbase = await DebianImageCorpus.GetAsync(DebianImageCorpus.Minbase);
        await minbase.PushAsync(fixture.Registry.Host, "base/minbase");
        var (baseExit, baseOutput, baseError) = await PullAsync($"{fixture.Registry.Host}/base/minbase:{minbase.Tag}");
        Assert.True(baseExit == 0, $"pull of the base failed ({baseExit}): {baseError}\n{baseOutput}");
        Assert.Contains("and applied", baseOutput, StringComparison.Ordinal);

        int before = fixture.BlobGets(fixture.Layers);
        var (exit, output, error) = await PullAsync(fixture.Reference.ToString());

        Assert.True(exit == 0, $"accel containerd pull failed ({exit}): {error}\n{output}\nsnapshotter: {fixture.Snapshotter.Error}");
        var layerLines = output.Split('\n').Where(l => l.StartsWith("layer ", StringComparison.Ordinal)).ToList();
        Assert.Equal(fixture.Image.LayerCount, layerLines.Count);
        Assert.Contains("already present", layerLines[0], StringComparison.Ordinal);
        Assert.All(layerLines.Skip(1), line => Assert.Contains(": remote", line, StringComparison.Ordinal));
        Assert.Equal(before, fixture.BlobGets(fixture.Layers));

        var (statusExit, status, statusError) = await AccelProcess.RunAsync("snapshotter", "status", "--address", fixture.SnapshotterAddress, "--json");
        Assert.True(statusExit == 0, statusError);
        Assert.Contains("\"strategy\":\"lazy\"", status, StringComparison.Ordinal);

        string run = await fixture.Containerd.CtrAsync(
            ["run", "--rm", "--snapshotter", "accel", fixture.Reference.ToString(), "shared-base-" + Guid.NewGuid().ToString("N")[..12], .. fixture.Image.Command]);
        Assert.All(fixture.Image.ExpectedOutput, expected => Assert.Contains(expected, run, StringComparison.Ordinal));
        Assert.Equal(before, fixture.BlobGets(fixture.Layers));
    }

    private Task<(int Exit, string Output, string Error)> PullAsync(string reference)
        => AccelProcess.RunAsync(
            "containerd", "pull", reference,
            "--address", fixture.Containerd.Address,
            "--namespace", fixture.Containerd.Namespace,
            "--plain-http");
}

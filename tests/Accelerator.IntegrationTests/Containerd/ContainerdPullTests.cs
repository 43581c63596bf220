using Accelerator.Lazy.Conversion;
using Accelerator.Oci.Resolution;
using Accelerator.Testing.Images;
using Accelerator.Testing.Processes;
using Accelerator.Testing.Samples;
using Accelerator.Testing.Trees;

namespace Accelerator.IntegrationTests.Containerd;

/// <summary>
/// <c>accel containerd pull</c> against a private containerd with its own overlayfs snapshotter and a real
/// docker-registry: the image is pulled through containerd's API (content, leases, snapshots, diff, images), <c>ctr run</c>
/// starts it, and what containerd mounts equals <c>umoci unpack</c>.
/// </summary>
public sealed class ContainerdPullTests(ContainerdPullFixture fixture) : IClassFixture<ContainerdPullFixture>
{
    private const string Overlayfs = "overlayfs";

    [Fact]
    public async Task Pull_LayeredImageIntoOverlayfs_ContainerRunsTreeEqualsUmociAndSecondPullFetchesNothing()
    {
        var chainIds = await fixture.ChainIdsAsync(fixture.Reference);
        var (exit, output, error) = await PullAsync(fixture.Reference.ToString(), Overlayfs);
        Assert.True(exit == 0, $"accel containerd pull failed ({exit}): {error}");
        Assert.Equal(fixture.Image.LayerCount, output.Split('\n').Count(l => l.StartsWith("layer ", StringComparison.Ordinal) && l.Contains("and applied", StringComparison.Ordinal)));
        Assert.Contains($"{fixture.Image.LayerCount} fetched and applied", output, StringComparison.Ordinal);

        // containerd knows the image as unpacked for overlayfs: ctr run uses the snapshots as they are.
        string images = await fixture.Containerd.CtrAsync(["images", "ls", "--quiet"]);
        Assert.Contains(fixture.Reference.ToString(), images.Split('\n').Select(l => l.Trim()));
        string run = await fixture.Containerd.CtrAsync(
            ["run", "--rm", "--snapshotter", Overlayfs, fixture.Reference.ToString(), "ctrpull-" + Guid.NewGuid().ToString("N")[..12], .. fixture.Image.Command]);
        foreach (string expected in fixture.Image.ExpectedOutput)
        {
            Assert.Contains(expected, run, StringComparison.Ordinal);
        }

        // Directory times aside: containerd's applier (archive.Apply, as for ctr image pull) writes a layer straight into
        // the snapshot's upper directory and creates the parents of changed entries there with the time of the apply
        // (mkparent copies mode, owner and xattrs from the lower directory, not times).
        var differences = TreeSnapshot.Compare(
            fixture.Expected, await fixture.CaptureViewAsync(Overlayfs, chainIds[^1]), new TreeCompareOptions().Without(TreeFields.DirectoryMtime));
        Assert.True(differences.Count == 0, "containerd's view of the pulled image differs from umoci's unpack:\n" + string.Join("\n", differences.Take(50)));

        // Again: every snapshot is there, so no layer blob is fetched.
        var resolved = await ImageResolver.ResolveAsync(fixture.Client.GetStore(fixture.Reference.Registry), fixture.Reference);
        int before = fixture.BlobGets("corpus/layered", resolved.Layers.Select(l => l.Digest));
        (exit, output, error) = await PullAsync(fixture.Reference.ToString(), Overlayfs);
        Assert.True(exit == 0, $"the second pull failed ({exit}): {error}");
        Assert.Contains($"{fixture.Image.LayerCount} already present", output, StringComparison.Ordinal);
        Assert.Contains(" 0 B fetched", output, StringComparison.Ordinal);
        Assert.Equal(before, fixture.BlobGets("corpus/layered", resolved.Layers.Select(l => l.Digest)));
    }

    [Fact]
    public async Task Pull_LayerBlobCorruptAtRegistry_FailsWithOneErrorAndLeavesNoImage()
    {
        string layout = Path.Combine(fixture.WorkDirectory, "broken-layout");
        var sample = await SampleImageGenerator.WriteLayoutAsync(layout, new SampleImageOptions { LayerCount = 2, TotalSize = 256 * 1024, Seed = 1414, Tag = "v1" });
        await OciLayoutTools.PushAsync(layout, "v1", fixture.Registry.Host, "broken/app");
        // Same size, other bytes: the registry serves it under the old digest.
        var corrupt = sample.Layers[^1].Digest;
        string data = Path.Combine(fixture.Registry.StoragePath, "docker/registry/v2/blobs/sha256", corrupt.Encoded[..2], corrupt.Encoded, "data");
        byte[] bytes = await File.ReadAllBytesAsync(data);
        bytes[bytes.Length / 2] ^= 0xFF;
        await File.WriteAllBytesAsync(data, bytes);

        string reference = $"{fixture.Registry.Host}/broken/app:v1";
        var (exit, output, error) = await PullAsync(reference, Overlayfs);

        Assert.Equal(1, exit);
        var errors = error.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Single(errors);
        Assert.StartsWith("accel: error: ", errors[0], StringComparison.Ordinal);
        Assert.Contains(corrupt.ToString(), errors[0], StringComparison.Ordinal);
        Assert.Contains("mismatch", errors[0], StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("Pulled ", output, StringComparison.Ordinal);
        string images = await fixture.Containerd.CtrAsync(["images", "ls", "--quiet"]);
        Assert.DoesNotContain(reference, images.Split('\n').Select(l => l.Trim()));
        // The layer that failed left no extract snapshot behind.
        string snapshots = await fixture.Containerd.CtrAsync(["snapshots", "--snapshotter", Overlayfs, "ls"]);
        Assert.DoesNotContain("extract-", snapshots, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Pull_LazyVariantIntoOverlayfs_OneErrorAndLeavesNoImageNorSnapshot()
    {
        string layout = Path.Combine(fixture.WorkDirectory, "variant-layout");
        await SampleImageGenerator.WriteLayoutAsync(layout, new SampleImageOptions { LayerCount = 2, TotalSize = 256 * 1024, Seed = 1415, Tag = "v1" });
        await OciLayoutTools.PushAsync(layout, "v1", fixture.Registry.Host, "variant/app");
        var source = ImageReference.Parse($"{fixture.Registry.Host}/variant/app:v1");
        var store = fixture.Client.GetStore(source.Registry);
        await LazyConverter.ConvertAsync(store, source, store, LazyConverter.DefaultTarget(source));

        string reference = $"{fixture.Registry.Host}/variant/app:v1-accel";
        var (exit, output, error) = await PullAsync(reference, Overlayfs);

        Assert.Equal(1, exit);
        string line = Assert.Single(error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains("accelerated variant", line, StringComparison.Ordinal);
        Assert.DoesNotContain("Pulled ", output, StringComparison.Ordinal);
        string images = await fixture.Containerd.CtrAsync(["images", "ls", "--quiet"]);
        Assert.DoesNotContain(reference, images.Split('\n').Select(l => l.Trim()));
        string snapshots = await fixture.Containerd.CtrAsync(["snapshots", "--snapshotter", Overlayfs, "ls"]);
        Assert.DoesNotContain("extract-", snapshots, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Pull_NoContainerdAtAddress_OneErrorLineNamingTheSocket()
    {
        string socket = Path.Combine(fixture.WorkDirectory, "no-containerd.sock");
        var (exit, _, error) = await AccelProcess.RunAsync(
            "containerd", "pull", fixture.Reference.ToString(), "--address", socket, "--snapshotter", Overlayfs, "--plain-http");

        Assert.Equal(1, exit);
        string line = Assert.Single(error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith($"accel: error: cannot reach containerd at {socket}", line, StringComparison.Ordinal);
    }

    private Task<(int ExitCode, string Out, string Error)> PullAsync(string reference, string snapshotter) => AccelProcess.RunAsync(
        "containerd", "pull", reference,
        "--address", fixture.Containerd.Address,
        "--namespace", fixture.Containerd.Namespace,
        "--snapshotter", snapshotter,
        "--plain-http");
}

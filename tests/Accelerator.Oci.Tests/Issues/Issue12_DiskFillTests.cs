using Accelerator.Oci.Layout;
using Accelerator.Oci.Pulling;
using Accelerator.Testing.Samples;
using Accelerator.Testing.Host;

namespace Accelerator.Oci.Tests.Issues;

/// <summary>
/// Issue 12, B15: an image was bounded only per layer (64 GiB uncompressed each), so a many-layer image could fill
/// the disk; and a full disk in the middle of a pull must leave nothing that a later pull could take for a finished
/// tree. Now <see cref="PullOptions.MaxImageBytes"/> bounds the whole image with one clear error, and a pull that
/// runs out of space (a small tmpfs) leaves neither target nor staging behind; the retry with room succeeds.
/// </summary>
public sealed class Issue12_DiskFillTests : IDisposable
{
    private readonly string _temp = Directory.CreateTempSubdirectory("accel-issue12-fill-").FullName;

    public void Dispose() => Directory.Delete(_temp, recursive: true);

    [Fact]
    public async Task PullAsync_ImageOverMaxImageBytes_ThrowsContentTooLargeAndLeavesNothing()
    {
        // Three layers of about 1 MiB together, each below the per-layer limit: only the image bound stops it.
        var image = await SampleImageGenerator.WriteLayoutAsync(Path.Combine(_temp, "layout"), new SampleImageOptions { LayerCount = 3, TotalSize = 1024 * 1024, CompressibleFraction = 0 });
        string target = Path.Combine(_temp, "rootfs");
        var options = new PullOptions { MaxImageBytes = 600 * 1024, Layers = new() { MaxUncompressedBytes = 500 * 1024 } };

        var error = await Assert.ThrowsAsync<ContentTooLargeException>(
            () => ImagePuller.PullAsync(OciImageLayout.Open(image.LayoutPath), ImageReference.Parse(image.OciReference), target, options));

        Assert.Contains("limit for one image", error.Message, StringComparison.Ordinal);
        Assert.Contains("614400", error.Message, StringComparison.Ordinal);
        Assert.Equal(["layout"], Directory.EnumerateFileSystemEntries(_temp).Select(Path.GetFileName));

        var pulled = await ImagePuller.PullAsync(OciImageLayout.Open(image.LayoutPath), ImageReference.Parse(image.OciReference), target, options with { MaxImageBytes = 2 * 1024 * 1024 });
        Assert.All(image.Files, f => Assert.Equal(f.Value, new FileInfo(Path.Combine(pulled.TargetDirectory, f.Key)).Length));
    }

    [Fact]
    public async Task PullAsync_DiskFullMidPull_LeavesNoTargetOrStagingAndRetryWithRoomSucceeds()
    {
        // 4 MiB of incompressible files in 4 layers: the downloads alone need about 4 MiB, the unpacked tree as much.
        var image = await SampleImageGenerator.WriteLayoutAsync(Path.Combine(_temp, "layout"), new SampleImageOptions { LayerCount = 4, TotalSize = 4 * 1024 * 1024, CompressibleFraction = 0 });
        using var disk = SmallTmpfs.Mount(5 * 1024 * 1024);
        string target = Path.Combine(disk.Path, "rootfs");

        var error = await Assert.ThrowsAnyAsync<IOException>(
            () => ImagePuller.PullAsync(OciImageLayout.Open(image.LayoutPath), ImageReference.Parse(image.OciReference), target));

        Assert.Contains("space", error.Message, StringComparison.OrdinalIgnoreCase);
        Assert.Empty(disk.Entries());

        disk.Resize(64 * 1024 * 1024);
        var pulled = await ImagePuller.PullAsync(OciImageLayout.Open(image.LayoutPath), ImageReference.Parse(image.OciReference), target);

        Assert.All(image.Files, f => Assert.Equal(f.Value, new FileInfo(Path.Combine(pulled.TargetDirectory, f.Key)).Length));
        Assert.Equal(["rootfs"], Directory.EnumerateFileSystemEntries(disk.Path).Select(Path.GetFileName));
    }
}

using Accelerator.Oci.Layout;
using Accelerator.Oci.Model;
using Accelerator.Oci.Pulling;
using Accelerator.Testing.Samples;

namespace Accelerator.Oci.Tests.Pulling;

public sealed class ImagePullerTests : IDisposable
{
    private readonly string _temp = Directory.CreateTempSubdirectory("accel-puller-").FullName;

    public void Dispose() => Directory.Delete(_temp, recursive: true);

    [Fact]
    public async Task PullAsync_SampleLayout_WritesEveryFile()
    {
        var image = await SampleImageGenerator.WriteLayoutAsync(Path.Combine(_temp, "layout"), new SampleImageOptions { LayerCount = 2, TotalSize = 512 * 1024 });
        string target = Path.Combine(_temp, "rootfs");

        var result = await ImagePuller.PullAsync(OciImageLayout.Open(image.LayoutPath), ImageReference.Parse(image.OciReference), target);

        Assert.Equal(image.Layers.Sum(l => l.Size), result.BytesFetched);
        Assert.All(image.Files, f => Assert.Equal(f.Value, new FileInfo(Path.Combine(target, f.Key)).Length));
        Assert.Equal(["layout", "rootfs"], Directory.EnumerateFileSystemEntries(_temp).Select(Path.GetFileName).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task PullAsync_WithProgress_ReportsDownloadAndUnpackInBytes()
    {
        var image = await SampleImageGenerator.WriteLayoutAsync(Path.Combine(_temp, "layout"), new SampleImageOptions { LayerCount = 3, TotalSize = 3 * 1024 * 1024, CompressibleFraction = 0 });
        var reports = new RecordingProgress();

        await ImagePuller.PullAsync(OciImageLayout.Open(image.LayoutPath), ImageReference.Parse(image.OciReference), Path.Combine(_temp, "rootfs"), new PullOptions { Progress = reports });

        long total = image.Layers.Sum(l => l.Size);
        var unpack = reports.Where(r => r.Stage == "unpack").ToList();
        Assert.All(unpack, r => Assert.Equal(total, r.Total));
        Assert.Equal(unpack.Select(r => r.Completed).Order(), unpack.Select(r => r.Completed));
        Assert.Equal(total, unpack[^1].Completed);
        Assert.True(unpack.Count > image.Layers.Count, $"{unpack.Count} unpack reports");
        foreach (var layer in image.Layers)
        {
            var download = reports.Where(r => r.Stage == "download" && r.Item == layer.Digest.ToString()).ToList();
            Assert.Equal(layer.Size, download[^1].Completed);
            Assert.All(download, r => Assert.Equal(layer.Size, r.Total));
        }
    }

    [Fact]
    public async Task PullAsync_ConfigDiffIdWrong_ThrowsDigestMismatchAndLeavesNothing()
    {
        var reference = await WriteImageWithWrongDiffIdAsync();
        string target = Path.Combine(_temp, "rootfs");

        var error = await Assert.ThrowsAsync<DigestMismatchException>(
            () => ImagePuller.PullAsync(OciImageLayout.Open(Path.Combine(_temp, "layout")), reference, target));

        Assert.Contains("config diff_id", error.Message, StringComparison.Ordinal);
        Assert.Equal(["layout"], Directory.EnumerateFileSystemEntries(_temp).Select(Path.GetFileName));
    }

    [Fact]
    public async Task PullAsync_ConfigDiffIdWrongAndNotVerified_Succeeds()
    {
        var reference = await WriteImageWithWrongDiffIdAsync();
        string target = Path.Combine(_temp, "rootfs");

        await ImagePuller.PullAsync(OciImageLayout.Open(Path.Combine(_temp, "layout")), reference, target, new PullOptions { VerifyDiffIds = false });

        Assert.True(Directory.Exists(target));
    }

    // A sample image whose config names a wrong uncompressed digest for its last layer, tagged "bad".
    private async Task<ImageReference> WriteImageWithWrongDiffIdAsync()
    {
        string path = Path.Combine(_temp, "layout");
        var image = await SampleImageGenerator.WriteLayoutAsync(path, new SampleImageOptions { LayerCount = 2, TotalSize = 256 * 1024 });
        var layout = OciImageLayout.Open(path);
        var config = OciJson.Deserialize<ImageConfig>(await File.ReadAllBytesAsync(layout.GetBlobPath(image.Config.Digest)), "config");
        var diffIds = config.Rootfs!.DiffIds.ToArray();
        diffIds[^1] = Digest.Compute("not the layer"u8);
        byte[] tampered = OciJson.Serialize(config with { Rootfs = config.Rootfs with { DiffIds = diffIds } });
        var configDescriptor = new Descriptor(MediaTypes.OciConfig, Digest.Compute(tampered), tampered.Length);
        await layout.PushBlobAsync(configDescriptor, new MemoryStream(tampered));
        var manifest = ManifestDocument.From(new ImageManifest { Config = configDescriptor, Layers = image.Layers });
        await layout.PushManifestAsync(manifest, "bad");
        return ImageReference.Parse($"oci:{path}:bad");
    }

    // Records reports synchronously, in order (Progress<T> would post them to the thread pool).
    private sealed class RecordingProgress : List<MountProgress>, IProgress<MountProgress>
    {
        public void Report(MountProgress value)
        {
            lock (this)
            {
                Add(value);
            }
        }
    }
}

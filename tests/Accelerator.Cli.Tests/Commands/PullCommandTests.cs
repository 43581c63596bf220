using Accelerator.Testing.Samples;
using Accelerator.Testing.Trees;

namespace Accelerator.Cli.Tests.Commands;

public sealed class PullCommandTests(SampleLayout sample) : IClassFixture<SampleLayout>
{
    [Fact]
    public async Task Pull_SampleLayout_WritesEveryFileWithItsContent()
    {
        string target = sample.NewPath("rootfs");

        var run = await Accel.RunAsync("pull", sample.Reference, target);

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.StartsWith($"Pulled {sample.Reference} ({sample.Image.Manifest.Digest}) into {target}: 3 layers", run.Out);
        Assert.Single(run.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Equal(string.Empty, run.Error);
        var pulled = TreeSnapshot.Capture(target).Entries.Values
            .Where(e => e.Type == TreeEntryType.RegularFile)
            .ToDictionary(e => e.Path, e => (e.Size, e.Sha256!), StringComparer.Ordinal);
        Assert.Equal(sample.Files.OrderBy(f => f.Key, StringComparer.Ordinal), pulled.OrderBy(f => f.Key, StringComparer.Ordinal));
    }

    [Fact]
    public async Task Pull_ImageOverMaxImageSize_OneClearErrorAndNothingLeft()
    {
        string parent = Directory.CreateDirectory(sample.NewPath("capped")).FullName;
        string target = Path.Combine(parent, "rootfs");

        var run = await Accel.RunAsync("pull", sample.Reference, target, "--max-image-size", "4K");

        Assert.Equal(1, run.ExitCode);
        string line = Assert.Single(run.ErrorLines);
        Assert.StartsWith("accel: error: ", line);
        Assert.Contains("more than 4096 bytes, the limit for one image", line);
        Assert.Empty(Directory.EnumerateFileSystemEntries(parent));
    }

    [Fact]
    public async Task Pull_MaxImageSizeNotASize_OneClearError()
    {
        var run = await Accel.RunAsync("pull", sample.Reference, sample.NewPath("bad-size"), "--max-image-size", "lots");

        Assert.Equal(1, run.ExitCode);
        Assert.Contains("--max-image-size: 'lots' is not a positive size", Assert.Single(run.ErrorLines));
    }

    [Fact]
    public async Task Pull_CorruptedLayerBlob_OneDigestErrorAndNothingLeft()
    {
        string work = sample.NewPath("corrupt");
        var image = await SampleImageGenerator.WriteLayoutAsync(Path.Combine(work, "layout"), new SampleImageOptions { LayerCount = 2, TotalSize = 512 * 1024, Seed = 5 });
        var victim = image.Layers[1];
        string blob = Path.Combine(image.LayoutPath, "blobs", "sha256", victim.Digest.Encoded);
        byte[] bytes = await File.ReadAllBytesAsync(blob);
        bytes[bytes.Length / 2] ^= 0xff;
        await File.WriteAllBytesAsync(blob, bytes);
        string parent = Path.Combine(work, "out");
        Directory.CreateDirectory(parent);
        string target = Path.Combine(parent, "rootfs");

        var run = await Accel.RunAsync("pull", image.OciReference, target);

        Assert.Equal(1, run.ExitCode);
        Assert.Equal(string.Empty, run.Out);
        string line = Assert.Single(run.ErrorLines);
        Assert.StartsWith("accel: error: Digest mismatch", line);
        Assert.Contains(victim.Digest.ToString(), line);
        Assert.False(Directory.Exists(target));
        Assert.Empty(Directory.EnumerateFileSystemEntries(parent));
    }

    [Fact]
    public async Task Pull_PlatformTheImageIsNotFor_ClearErrorAndNoTarget()
    {
        string target = sample.NewPath("s390x");

        var run = await Accel.RunAsync("pull", "--platform", "linux/s390x", sample.Reference, target);

        Assert.Equal(1, run.ExitCode);
        Assert.Equal($"accel: error: {sample.Reference} has no image for platform linux/s390x; it has: linux/amd64.", Assert.Single(run.ErrorLines));
        Assert.False(Directory.Exists(target));
    }

    [Fact]
    public async Task Pull_PlatformTheImageIsFor_Succeeds()
    {
        var run = await Accel.RunAsync("pull", "--platform", "linux/amd64", sample.Reference, sample.NewPath("amd64"));

        Assert.True(run.ExitCode == 0, run.ToString());
    }

    [Fact]
    public async Task Pull_TargetNotEmpty_RefusedAndKept()
    {
        string target = sample.NewPath("full");
        Directory.CreateDirectory(target);
        await File.WriteAllTextAsync(Path.Combine(target, "keep"), "mine");

        var run = await Accel.RunAsync("pull", sample.Reference, target);

        Assert.Equal(1, run.ExitCode);
        Assert.Contains("is not empty", Assert.Single(run.ErrorLines));
        Assert.Equal("mine", await File.ReadAllTextAsync(Path.Combine(target, "keep")));
        Assert.Single(Directory.EnumerateFileSystemEntries(target));
    }

    [Fact]
    public async Task Pull_LayoutMissing_OneErrorLine()
    {
        string target = sample.NewPath("nothing");

        var run = await Accel.RunAsync("pull", $"oci:{sample.NewPath("no-layout")}:v1", target);

        Assert.Equal(1, run.ExitCode);
        Assert.StartsWith("accel: error: ", Assert.Single(run.ErrorLines));
        Assert.False(Directory.Exists(target));
    }
}

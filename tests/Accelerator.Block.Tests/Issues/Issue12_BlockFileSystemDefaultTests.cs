using Accelerator.Block.Format;
using Accelerator.Block.Mounting;
using Accelerator.Block.Tests.Support;
using Accelerator.Oci;
using Accelerator.Oci.Layout;
using Accelerator.Oci.Registry;
using Accelerator.TestSupport;
using Accelerator.Testing.Images;
using Accelerator.Testing.Trees;

namespace Accelerator.Block.Tests.Issues;

/// <summary>
/// Issue 12, B16: <c>accel convert --format block</c> builds EROFS unless told otherwise — a read-only file system with
/// the kernel's smaller parser for what a block mount hands the kernel — and the block mount serves it exactly.
/// </summary>
[Collection(BlockCollection.Name)]
public sealed class Issue12_BlockFileSystemDefaultTests(BlockFixture fixture) : IDisposable
{
    private readonly RegistryClient _client = new(new RegistryOptions { PlainHttp = true });
    private readonly string _work = fixture.NewDirectory("issue12-erofs");

    public void Dispose()
    {
        _client.Dispose();
        Directory.Delete(_work, recursive: true);
    }

    [Fact]
    public async Task ConvertFormatBlock_NoFilesystemOption_ErofsImageMountsEqualToUmoci()
    {
        string layout = Path.Combine(_work, "layout");
        await ExternalTool.RunAsync("skopeo", ["copy", fixture.Image.OciReference, $"oci:{layout}:v1"]);

        var (code, _, error) = await AccelInProcess.RunAsync("convert", $"oci:{layout}:v1", "--format", "block");

        Assert.True(code == 0, error);
        var image = await BlockImage.LoadAsync(OciImageLayout.Open(layout), ImageReference.Parse($"oci:{layout}:v1-accel-block"));
        Assert.Equal("erofs", image.FileSystem);
        var options = new BlockMountOptions { StateDirectory = _work, CacheDirectory = Path.Combine(_work, "cache") };
        var mounter = new BlockMounter([new BlockImageOpener(new ImageStoreResolver(_client), options)], options);
        string mountPoint = Directory.CreateDirectory(Path.Combine(_work, "mnt")).FullName;
        await using (await mounter.MountAsync(ImageReference.Parse($"oci:{layout}:v1"), mountPoint, new MountOptions { ReadOnly = true }))
        {
            // No lost+found, nothing else: the EROFS tree is the image's tree.
            var differences = TreeSnapshot.Compare(fixture.ReferenceSnapshot, TreeSnapshot.Capture(mountPoint));
            Assert.True(differences.Count == 0, "The EROFS block mount differs from umoci's unpack:\n" + string.Join("\n", differences));
        }
    }

    [Fact]
    public async Task ConvertFormatBlock_FreeSpaceWithoutExt4_OneErrorLine()
    {
        var (code, _, error) = await AccelInProcess.RunAsync("convert", fixture.Image.OciReference, $"oci:{Path.Combine(_work, "x")}:x", "--format", "block", "--free-space", "4M");

        Assert.Equal(1, code);
        Assert.Single(error.Trim().Split('\n'));
        Assert.Contains("--filesystem ext4", error, StringComparison.Ordinal);
    }
}

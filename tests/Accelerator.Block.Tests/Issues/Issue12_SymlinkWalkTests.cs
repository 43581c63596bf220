using Accelerator.Block.Conversion;
using Accelerator.Block.Tests.Conversion;
using Accelerator.Testing.Images;
using Accelerator.Testing.Trees;

namespace Accelerator.Block.Tests.Issues;

/// <summary>
/// Issue 12, A1: building a block image walked the staged tree through its symbolic links (<c>dev/fd -&gt;
/// /proc/self/fd</c> into the host, <c>lib -&gt; usr/lib</c> plus an alternatives link into paths debugfs cannot find).
/// </summary>
public sealed class Issue12_SymlinkWalkTests : IDisposable
{
    private readonly string _work = Directory.CreateTempSubdirectory("accel-issue12-walk-").FullName;

    public void Dispose() => Directory.Delete(_work, recursive: true);

    [Fact]
    public async Task BuildAsync_TreeWithDangerousLinks_Ext4HoldsTheTreeWithLinksAsLinks()
    {
        string tree = Path.Combine(_work, "tree");
        string outside = Path.Combine(_work, "outside");
        DangerousLinks.CreateOutside(outside);
        DangerousLinks.Stage(tree, outside);
        string image = Path.Combine(_work, "disk.img");

        long size = await FileSystemImageBuilder.BuildAsync(tree, image, BlockFileSystem.Ext4, "issue12", freeBytes: 0, alignment: 65536);

        // Measured without the outside directory's 8 MiB behind opt/outside (it is not in the image).
        Assert.True(size < 24L << 20, $"the disk is sized for what the links point at: {size} bytes");
        string mountPoint = Directory.CreateDirectory(Path.Combine(_work, "mnt")).FullName;
        await ExternalTool.RunAsync("mount", ["-o", "loop,ro", image, mountPoint]);
        try
        {
            var differences = TreeSnapshot.Compare(TreeSnapshot.Capture(tree), TreeSnapshot.Capture(mountPoint), BlockConverterConformanceTests.Ext4Compare);
            Assert.True(differences.Count == 0, "The ext4 tree differs from the staged tree:\n" + string.Join("\n", differences));
        }
        finally
        {
            await ExternalTool.RunAsync("umount", [mountPoint]);
        }
    }
}

using Accelerator.Block.Disks;
using Accelerator.Block.Mounting;
using Accelerator.Block.Tests.Support;
using Accelerator.Testing.Images;
using Accelerator.Testing.Trees;

namespace Accelerator.Block.Tests.Mounting;

/// <summary>Block mounts of the conformance image's ext4 disk: tree, writes, teardown, failures.</summary>
public sealed class BlockMounterTests(ConformanceImageFixture fixture) : IClassFixture<ConformanceImageFixture>
{
    // mke2fs -d (e2fsprogs 1.47.0) keeps whole seconds of timestamps: the sub-second part of times/subsecond and of the
    // directories umoci stamped with nanoseconds is lost in the image, not in the mount. Everything else is kept.
    private static readonly TreeCompareOptions Ext4Compare = new() { MtimeGranularityNanoseconds = 1_000_000_000 };

    private BlockMounter NewMounter(bool directIo = true)
        => new([], new BlockMountOptions { StateDirectory = fixture.Directory, DirectIo = directIo });

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task MountDiskAsync_ReadOnlyConformanceDisk_TreeEqualsUmociUnpack(bool directIo)
    {
        string mountPoint = fixture.NewMountPoint();

        await using (var mounted = await NewMounter(directIo).MountDiskAsync(FileVirtualDisk.Open(fixture.ImagePath), mountPoint, readOnly: true, ownsDisk: true))
        {
            var differences = TreeSnapshot.Compare(fixture.ReferenceSnapshot, TreeSnapshot.Capture(mountPoint), Ext4Compare);

            Assert.True(differences.Count == 0, "The block mount differs from umoci's unpack:\n" + string.Join("\n", differences));
            Assert.Equal("ext4", mounted.FileSystemType);
            Assert.Equal(Strategy.Block, mounted.Statistics.Strategy);
            Assert.True(mounted.Statistics.BytesRead > 0);
            Assert.Null(mounted.UpperDirectory);
            Assert.Equal(directIo, mounted.DirectIo);
        }

        Assert.Empty(Directory.EnumerateFileSystemEntries(mountPoint));
    }

    [Fact]
    public async Task MountDiskAsync_Writable_WritesLandInUpperAndDiskUnchanged()
    {
        string mountPoint = fixture.NewMountPoint();
        string upper;
        await using (var mounted = await NewMounter().MountDiskAsync(FileVirtualDisk.Open(fixture.ImagePath), mountPoint, ownsDisk: true))
        {
            upper = mounted.UpperDirectory!;
            File.WriteAllText(Path.Combine(mountPoint, "new-file"), "written by the container");
            File.AppendAllText(Path.Combine(mountPoint, ConformancePaths.SmallFile), "appended\n");
            File.Delete(Path.Combine(mountPoint, ConformancePaths.LargeFile));

            Assert.Equal("written by the container", File.ReadAllText(Path.Combine(upper, "new-file")));
            Assert.Equal(ConformancePaths.SmallFileContent + "appended\n", File.ReadAllText(Path.Combine(upper, ConformancePaths.SmallFile)));
            Assert.False(File.Exists(Path.Combine(mountPoint, ConformancePaths.LargeFile)));
            var differences = TreeSnapshot.Compare(fixture.ReferenceSnapshot, TreeSnapshot.Capture(mounted.DiskFile.Replace("/fuse/disk", "/lower", StringComparison.Ordinal)), Ext4Compare);
            Assert.Empty(differences);
        }

        Assert.False(Directory.Exists(upper));
        Assert.Equal(fixture.ImageSha256, RawImages.Sha256(fixture.ImagePath));
        await Tool.CheckAsync("e2fsck", "-f", "-n", fixture.ImagePath);
    }

    [Fact]
    public async Task DisposeAsync_Mounted_RemovesOverlayFileSystemLoopAndFuse()
    {
        string mountPoint = fixture.NewMountPoint();
        var mounted = await NewMounter().MountDiskAsync(FileVirtualDisk.Open(fixture.ImagePath), mountPoint, ownsDisk: true);
        string loop = mounted.LoopDevice;
        string diskFile = mounted.DiskFile;
        Assert.Contains(diskFile, await Tool.CheckAsync("losetup", "--list", "--noheadings", "--output", "BACK-FILE", loop), StringComparison.Ordinal);

        await mounted.DisposeAsync();

        string mounts = File.ReadAllText("/proc/self/mounts");
        Assert.DoesNotContain(mountPoint, mounts, StringComparison.Ordinal);
        Assert.DoesNotContain(Path.GetDirectoryName(diskFile)!, mounts, StringComparison.Ordinal);
        Assert.DoesNotContain(diskFile, await Tool.CheckAsync("losetup", "--list", "--noheadings", "--output", "BACK-FILE"), StringComparison.Ordinal);
        Assert.False(Directory.Exists(Path.GetDirectoryName(Path.GetDirectoryName(diskFile))));
    }

    [Fact]
    public async Task Read_BackendFailsAfterMount_ReaderGetsEio()
    {
        string mountPoint = fixture.NewMountPoint();
        var faulty = new FaultyVirtualDisk(FileVirtualDisk.Open(fixture.ImagePath));
        await using var mounted = await NewMounter().MountDiskAsync(faulty, mountPoint, readOnly: true, ownsDisk: true);

        faulty.FailingRange = (0, faulty.Size);
        var error = Assert.ThrowsAny<IOException>(() => File.ReadAllBytes(Path.Combine(mountPoint, ConformancePaths.LargeFile)));

        Assert.True(faulty.Failures > 0);
        Assert.Equal(5, error.HResult & 0xffff);
    }

    [Fact]
    public async Task MountDiskAsync_DiskWithoutFileSystem_ThrowsAndLeavesNothing()
    {
        string image = RawImages.CreateRandom(Path.Combine(fixture.Directory, "noise.img"), 1 << 20, seed: 8);
        string mountPoint = fixture.NewMountPoint();
        int before = Directory.GetDirectories(fixture.Directory, "block-*").Length;

        await Assert.ThrowsAsync<InvalidDataException>(() => NewMounter().MountDiskAsync(FileVirtualDisk.Open(image), mountPoint, ownsDisk: true));

        Assert.Equal(before, Directory.GetDirectories(fixture.Directory, "block-*").Length);
        File.Delete(image);
    }

    [Fact]
    public async Task CanMountAsync_NoOpener_FalseWithReason()
    {
        var (canMount, reason) = await NewMounter().CanMountAsync(ImageReference.Parse("localhost:5000/app:1"));

        Assert.False(canMount);
        Assert.Contains("no block image format", reason, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(new byte[] { 0x53, 0xEF }, 1080, "ext4")]
    [InlineData(new byte[] { 0xE2, 0xE1, 0xF5, 0xE0 }, 1024, "erofs")]
    [InlineData(new byte[] { 0x68, 0x73, 0x71, 0x73 }, 0, "squashfs")]
    [InlineData(new byte[] { 1, 2 }, 1080, null)]
    public void DiskFileSystemType_Superblock_Recognised(byte[] magic, int offset, string? expected)
    {
        byte[] head = new byte[2048];
        magic.CopyTo(head, offset);

        Assert.Equal(expected, DiskFileSystemType.Detect(head));
    }
}

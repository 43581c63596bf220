namespace Accelerator.Linux.Tests;

/// <summary><see cref="LoopDevice"/>: attach and detach through losetup (the suite runs as root), found again in sysfs.</summary>
public sealed class LoopDeviceTests : IDisposable
{
    private readonly string _work = Directory.CreateTempSubdirectory("accel-loop-").FullName;

    public void Dispose() => Directory.Delete(_work, recursive: true);

    [Fact]
    public async Task AttachAsync_ReadOnlyFile_DeviceBackedByItUntilDetached()
    {
        string backing = Path.Combine(_work, "disk with space.img");
        await File.WriteAllBytesAsync(backing, new byte[1 << 20]);

        var loop = await LoopDevice.AttachAsync(backing, readOnly: true, directIo: false, logicalBlockSize: 4096, CancellationToken.None);
        try
        {
            Assert.StartsWith("/dev/loop", loop.Path, StringComparison.Ordinal);
            Assert.Equal([loop.Path], LoopDevice.BackedUnder(_work));
            Assert.Empty(LoopDevice.BackedUnder(_work + "-sibling"));
            string name = Path.GetFileName(loop.Path);
            Assert.Equal("1", File.ReadAllText($"/sys/block/{name}/ro").Trim());
            Assert.Equal("4096", File.ReadAllText($"/sys/block/{name}/queue/logical_block_size").Trim());
            Assert.True(loop.TrySetReadAhead(1024));
            Assert.Equal("1024", File.ReadAllText($"/sys/block/{name}/queue/read_ahead_kb").Trim());
        }
        finally
        {
            await loop.DetachAsync();
        }

        Assert.Empty(LoopDevice.BackedUnder(_work));
    }

    [Fact]
    public async Task DetachAsync_ByDeviceName_DetachesOneAnotherHandleAttached()
    {
        string backing = Path.Combine(_work, "left-behind.img");
        await File.WriteAllBytesAsync(backing, new byte[1 << 20]);
        var loop = await LoopDevice.AttachAsync(backing, readOnly: false, directIo: true, logicalBlockSize: 512, CancellationToken.None);

        string found = Assert.Single(LoopDevice.BackedUnder(_work));
        await LoopDevice.DetachAsync(found);

        Assert.Equal(loop.Path, found);
        Assert.Empty(LoopDevice.BackedUnder(_work));
    }

    [Fact]
    public async Task AttachAsync_MissingFile_IOExceptionFromLosetup()
    {
        var error = await Assert.ThrowsAsync<IOException>(
            () => LoopDevice.AttachAsync(Path.Combine(_work, "missing.img"), readOnly: true, directIo: false, logicalBlockSize: 512, CancellationToken.None));

        Assert.Contains("losetup", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void BackedUnder_NothingAttached_Empty()
        => Assert.Empty(LoopDevice.BackedUnder(_work));

    [Fact]
    public void AttachedLoopDevice_FromSysfs_DeletedSuffixSplitOff()
    {
        Assert.Equal(new AttachedLoopDevice("/dev/loop3", "/run/accel/block-1/fuse/disk", Deleted: true),
            AttachedLoopDevice.FromSysfs("/dev/loop3", "/run/accel/block-1/fuse/disk (deleted)"));
        Assert.Equal(new AttachedLoopDevice("/dev/loop4", "/a b/disk", Deleted: false), AttachedLoopDevice.FromSysfs("/dev/loop4", "/a b/disk"));
    }

    [Fact]
    public async Task ListAttached_DeletedBackingFile_ShownDeleted()
    {
        string backing = Path.Combine(_work, "deleted.img");
        await File.WriteAllBytesAsync(backing, new byte[1 << 20]);
        var loop = await LoopDevice.AttachAsync(backing, readOnly: true, directIo: false, logicalBlockSize: 512, CancellationToken.None);
        try
        {
            File.Delete(backing);

            Assert.Contains(new AttachedLoopDevice(loop.Path, backing, Deleted: true), LoopDevice.ListAttached());
            Assert.Equal([loop.Path], LoopDevice.BackedUnder(_work));
        }
        finally
        {
            await loop.DetachAsync();
        }
    }
}

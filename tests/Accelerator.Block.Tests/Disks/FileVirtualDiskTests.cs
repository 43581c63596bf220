using Accelerator.Block.Disks;
using Accelerator.Block.Tests.Support;

namespace Accelerator.Block.Tests.Disks;

public sealed class FileVirtualDiskTests : IDisposable
{
    private readonly TempDirectory _directory = new();

    public void Dispose() => _directory.Dispose();

    [Fact]
    public async Task ReadAsync_Range_ReturnsTheFileBytes()
    {
        string path = RawImages.CreateRandom(_directory.Combine("a.img"), 1 << 20, seed: 1);
        await using var disk = FileVirtualDisk.Open(path);
        byte[] buffer = new byte[5000];

        await disk.ReadAsync(1234, buffer);

        Assert.True(disk.IsReadOnly);
        Assert.Equal(1 << 20, disk.Size);
        Assert.Equal(File.ReadAllBytes(path).AsSpan(1234, 5000).ToArray(), buffer);
    }

    [Fact]
    public async Task Operations_OutOfRange_ThrowArgumentOutOfRange()
    {
        await using var disk = FileVirtualDisk.Create(_directory.Combine("b.img"), 8192);

        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(async () => await disk.ReadAsync(8000, new byte[200]));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(async () => await disk.ReadAsync(-1, new byte[1]));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(async () => await disk.WriteAsync(8192, new byte[1]));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(async () => await disk.TrimAsync(4096, long.MaxValue));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(async () => await disk.WriteZeroesAsync(8191, 2));
    }

    [Fact]
    public async Task Writes_OnReadOnlyDisk_ThrowNotSupported()
    {
        string path = RawImages.CreateRandom(_directory.Combine("c.img"), 8192, seed: 2);
        await using var disk = FileVirtualDisk.Open(path);

        await Assert.ThrowsAsync<NotSupportedException>(async () => await disk.WriteAsync(0, new byte[1]));
        await Assert.ThrowsAsync<NotSupportedException>(async () => await disk.TrimAsync(0, 512));
        await Assert.ThrowsAsync<NotSupportedException>(async () => await disk.WriteZeroesAsync(0, 512));
    }

    [Fact]
    public async Task WriteTrimZeroFlush_WritableDisk_ChangeTheFile()
    {
        string path = RawImages.CreateRandom(_directory.Combine("d.img"), 1 << 20, seed: 3);
        await using (var disk = FileVirtualDisk.Open(path, writable: true))
        {
            await disk.WriteAsync(100, new byte[] { 1, 2, 3 });
            await disk.TrimAsync(65536, 65536);
            await disk.WriteZeroesAsync(4096, 1000);
            await disk.FlushAsync();
        }

        byte[] file = File.ReadAllBytes(path);
        Assert.Equal(new byte[] { 1, 2, 3 }, file[100..103]);
        Assert.True(file.AsSpan(65536, 65536).IndexOfAnyExcept((byte)0) < 0);
        Assert.True(file.AsSpan(4096, 1000).IndexOfAnyExcept((byte)0) < 0);
        Assert.Equal(1 << 20, file.Length);
    }

    [Fact]
    public async Task ReadAsync_FileTruncatedUnderneath_ThrowsIOExceptionNotZeros()
    {
        string path = RawImages.CreateRandom(_directory.Combine("e.img"), 1 << 20, seed: 4);
        await using var disk = FileVirtualDisk.Open(path);
        using (var file = new FileStream(path, FileMode.Open, FileAccess.Write, FileShare.ReadWrite))
        {
            file.SetLength(4096);
        }

        await Assert.ThrowsAsync<IOException>(async () => await disk.ReadAsync(8192, new byte[512]));
    }

    [Fact]
    public void Open_BadBlockSize_Throws()
    {
        string path = RawImages.CreateRandom(_directory.Combine("f.img"), 8192, seed: 5);

        Assert.Throws<ArgumentOutOfRangeException>(() => FileVirtualDisk.Open(path, blockSize: 1000));
    }
}

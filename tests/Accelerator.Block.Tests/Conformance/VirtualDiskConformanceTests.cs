using System.Security.Cryptography;

namespace Accelerator.Block.Tests.Conformance;

/// <summary>
/// The <see cref="IVirtualDisk"/> contract, for every implementation to inherit: a derived class creates a disk whose
/// initial content it also returns, and every test checks the disk against it. Writable disks also get the write,
/// trim and write-zeroes tests; read-only disks must refuse them.
/// </summary>
public abstract class VirtualDiskConformanceTests : IAsyncLifetime
{
    private IVirtualDisk? _disk;

    /// <summary>The disk under test.</summary>
    protected IVirtualDisk Disk => _disk ?? throw new InvalidOperationException("Not initialised.");

    /// <summary>The disk's content when created.</summary>
    protected byte[] Expected { get; private set; } = [];

    /// <summary>Creates the disk and returns it with its initial content.</summary>
    protected abstract Task<(IVirtualDisk Disk, byte[] Content)> CreateDiskAsync();

    /// <summary>Releases what <see cref="CreateDiskAsync"/> made, after the disk is disposed.</summary>
    protected virtual Task CleanUpAsync() => Task.CompletedTask;

    public async Task InitializeAsync() => (_disk, Expected) = await CreateDiskAsync();

    public async Task DisposeAsync()
    {
        if (_disk is not null)
        {
            await _disk.DisposeAsync();
        }

        await CleanUpAsync();
    }

    private async Task<byte[]> ReadAsync(long offset, int length)
    {
        byte[] buffer = new byte[length];
        await Disk.ReadAsync(offset, buffer);
        return buffer;
    }

    [Fact]
    public void Geometry_SizeAndBlockSize_AsTheContractSays()
    {
        Assert.Equal(Expected.Length, Disk.Size);
        Assert.True(Disk.BlockSize >= 512 && (Disk.BlockSize & (Disk.BlockSize - 1)) == 0, $"block size {Disk.BlockSize}");
    }

    [Fact]
    public async Task ReadAsync_WholeDiskInOddPieces_EqualsContent()
    {
        var random = new Random(3);
        long offset = 0;
        while (offset < Disk.Size)
        {
            int length = (int)Math.Min(random.Next(1, 300_000), Disk.Size - offset);
            byte[] actual = await ReadAsync(offset, length);
            Assert.True(Expected.AsSpan((int)offset, length).SequenceEqual(actual), $"bytes at {offset}+{length}");
            offset += length;
        }
    }

    [Fact]
    public async Task ReadAsync_ConcurrentReads_EachGetsItsBytes()
    {
        var random = new Random(4);
        var ranges = Enumerable.Range(0, 64).Select(_ =>
        {
            long at = random.NextInt64(Disk.Size - 8192);
            return (Offset: at, Length: random.Next(1, 8192));
        }).ToArray();

        byte[][] results = await Task.WhenAll(ranges.Select(r => Task.Run(() => ReadAsync(r.Offset, r.Length))));

        for (int i = 0; i < ranges.Length; i++)
        {
            Assert.True(Expected.AsSpan((int)ranges[i].Offset, ranges[i].Length).SequenceEqual(results[i]));
        }
    }

    [Fact]
    public async Task ReadAsync_OutsideTheDisk_ArgumentOutOfRange()
    {
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(async () => await Disk.ReadAsync(-1, new byte[1]));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(async () => await Disk.ReadAsync(Disk.Size, new byte[1]));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(async () => await Disk.ReadAsync(Disk.Size - 1, new byte[2]));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(async () => await Disk.ReadAsync(long.MaxValue, new byte[1]));
        await Disk.ReadAsync(Disk.Size, Memory<byte>.Empty);
    }

    [Fact]
    public async Task WriteTrimZeroes_ReadOnlyRefusesWritableKeeps()
    {
        int bs = Disk.BlockSize;
        long offset = (Disk.Size / 2 / bs * bs) + 100;
        byte[] data = RandomNumberGenerator.GetBytes(bs + 50);
        if (Disk.IsReadOnly)
        {
            await Assert.ThrowsAsync<NotSupportedException>(async () => await Disk.WriteAsync(offset, data));
            await Assert.ThrowsAsync<NotSupportedException>(async () => await Disk.TrimAsync(0, bs));
            await Assert.ThrowsAsync<NotSupportedException>(async () => await Disk.WriteZeroesAsync(0, bs));
            Assert.Equal(Expected, await ReadAsync(0, Expected.Length));
            return;
        }

        await Disk.WriteAsync(offset, data);
        data.CopyTo(Expected, offset);
        await Disk.TrimAsync(0, 2L * bs);
        Array.Clear(Expected, 0, 2 * bs);
        await Disk.WriteZeroesAsync((3L * bs) + 1, 10);
        Array.Clear(Expected, (3 * bs) + 1, 10);
        await Disk.FlushAsync();

        Assert.Equal(Expected, await ReadAsync(0, Expected.Length));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(async () => await Disk.WriteAsync(Disk.Size - 1, new byte[2]));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(async () => await Disk.TrimAsync(Disk.Size, 1));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(async () => await Disk.WriteZeroesAsync(-1, 1));
    }
}

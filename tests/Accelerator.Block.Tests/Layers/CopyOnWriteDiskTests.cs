using System.Security.Cryptography;
using Accelerator.Block.Conversion;
using Accelerator.Block.Format;
using Accelerator.Block.Layers;
using Accelerator.Block.Tests.Support;

namespace Accelerator.Block.Tests.Layers;

public sealed class CopyOnWriteDiskTests
{
    private static async Task<byte[]> ReadAsync(IVirtualDisk disk, long offset, int length)
    {
        byte[] buffer = new byte[length];
        await disk.ReadAsync(offset, buffer);
        return buffer;
    }

    private static byte[] RawRange(BlockTestImage image, long offset, int length)
    {
        byte[] buffer = new byte[length];
        using var raw = File.OpenRead(image.RawPath);
        raw.Position = offset;
        raw.ReadExactly(buffer);
        return buffer;
    }

    [Fact]
    public async Task WriteAsync_PartialBlock_CopiesUpAndReadsFallThroughElsewhere()
    {
        using var image = await BlockTestImage.CreateAsync();
        await using BlockLayerStack stack = image.Open();
        await using var cow = CopyOnWriteDisk.Open(stack, Path.Combine(image.Root, "cow"), "base");
        int bs = cow.BlockSize;
        long offset = (image.Index.Layers[0][0].FirstBlock * bs) + 100;
        byte[] data = RandomNumberGenerator.GetBytes(300);

        await cow.WriteAsync(offset, data);

        Assert.Equal(data, await ReadAsync(cow, offset, 300));
        // The rest of the block was copied up; the block after it still reads from the image.
        long blockStart = offset - 100;
        byte[] expected = RawRange(image, blockStart, 2 * bs);
        data.CopyTo(expected, 100);
        Assert.Equal(expected, await ReadAsync(cow, blockStart, 2 * bs));
        Assert.Equal(CopyOnWriteDisk.BlockState.Data, cow.GetState(blockStart / bs));
        Assert.Equal(CopyOnWriteDisk.BlockState.Lower, cow.GetState((blockStart / bs) + 1));
        Assert.False(cow.IsReadOnly);
    }

    [Fact]
    public async Task TrimAndWriteZeroes_WholeAndPartialBlocks_ReadZerosAndHideTheImage()
    {
        using var image = await BlockTestImage.CreateAsync();
        await using BlockLayerStack stack = image.Open();
        await using var cow = CopyOnWriteDisk.Open(stack, Path.Combine(image.Root, "cow"), "base");
        int bs = cow.BlockSize;
        long start = image.Index.Layers[0][0].FirstBlock * bs;

        await cow.TrimAsync(start, 2 * bs);
        await cow.WriteZeroesAsync(start + (2 * bs) + 10, 20);

        Assert.All(await ReadAsync(cow, start, 2 * bs), b => Assert.Equal(0, b));
        Assert.Equal(CopyOnWriteDisk.BlockState.Zero, cow.GetState(start / bs));
        byte[] partial = RawRange(image, start + (2 * bs), bs);
        Array.Clear(partial, 10, 20);
        Assert.Equal(partial, await ReadAsync(cow, start + (2 * bs), bs));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(async () => await cow.TrimAsync(cow.Size - 1, 2));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(async () => await cow.WriteAsync(cow.Size, new byte[1]));
    }

    [Fact]
    public async Task Open_SameDirectoryAfterFlush_ContinuesLayer_OtherLowerRefused()
    {
        using var image = await BlockTestImage.CreateAsync();
        string directory = Path.Combine(image.Root, "cow");
        byte[] data = RandomNumberGenerator.GetBytes(5000);
        await using BlockLayerStack stack = image.Open();
        await using (var cow = CopyOnWriteDisk.Open(stack, directory, "base"))
        {
            await cow.WriteAsync(12_345, data);
            await cow.TrimAsync(10L * cow.BlockSize, cow.BlockSize);
            await cow.FlushAsync();
        }

        await using (var again = CopyOnWriteDisk.Open(stack, directory, "base"))
        {
            Assert.Equal(data, await ReadAsync(again, 12_345, data.Length));
            Assert.Equal(CopyOnWriteDisk.BlockState.Zero, again.GetState(10));
        }

        var error = Assert.Throws<InvalidDataException>(() => CopyOnWriteDisk.Open(stack, directory, "another-base"));
        Assert.Contains("another disk", error.Message);
    }

    [Fact]
    public async Task WriteAsync_ConcurrentWritesToOneBlock_NoneLost()
    {
        using var image = await BlockTestImage.CreateAsync();
        await using BlockLayerStack stack = image.Open();
        await using var cow = CopyOnWriteDisk.Open(stack, Path.Combine(image.Root, "cow"), "base");
        long start = image.Index.Layers[0][0].FirstBlock * cow.BlockSize;

        await Task.WhenAll(Enumerable.Range(0, 32).Select(i => Task.Run(async () =>
        {
            byte[] piece = new byte[512];
            Array.Fill(piece, (byte)(i + 1));
            await cow.WriteAsync(start + (i * 512), piece);
        })));

        byte[] all = await ReadAsync(cow, start, 32 * 512);
        for (int i = 0; i < 32; i++)
        {
            Assert.All(all.AsSpan(i * 512, 512).ToArray(), b => Assert.Equal(i + 1, b));
        }
    }

    [Fact]
    public async Task FreezeAsync_StackWithWrites_NewLayerOpensEqualToWritableView()
    {
        using var image = await BlockTestImage.CreateAsync();
        await using BlockLayerStack stack = image.Open();
        await using var cow = CopyOnWriteDisk.Open(stack, Path.Combine(image.Root, "cow"), "base");
        int bs = cow.BlockSize;
        long first = image.Index.Layers[0][0].FirstBlock;
        byte[] pattern = RandomNumberGenerator.GetBytes(bs);
        await cow.WriteAsync((cow.BlockCount - 3) * bs, pattern);        // a zero block of the image gets data
        await cow.WriteAsync((cow.BlockCount - 2) * bs, pattern);        // the same bytes again: stored once
        await cow.TrimAsync(first * bs, bs);                             // image data hidden by zeros
        await cow.WriteAsync((first * bs) + bs + 7, new byte[] { 1, 2, 3 }); // a partial write over image data
        await cow.WriteAsync((cow.BlockCount - 5) * bs, new byte[bs]);   // zeros over zeros: nothing to store
        string expected = await BlockTestImage.HashDiskAsync(cow);

        BlockImageBuild frozen = await BlockLayerFreezer.FreezeAsync(image.Index, cow, Path.Combine(image.Root, "frozen"));

        Assert.Equal(2, frozen.Index.Layers.Count);
        Assert.Equal(image.Index.StoredBlockCount + 2, frozen.Index.StoredBlockCount);
        Assert.Equal(1, frozen.DuplicateBlocks);
        Assert.Contains(frozen.Index.Layers[1], e => e.IsZero && e.FirstBlock == first);
        Assert.DoesNotContain(frozen.Index.Layers[1], e => e.FirstBlock == cow.BlockCount - 5);
        foreach (var (_, path) in frozen.Blobs)
        {
            image.Source.Add(File.ReadAllBytes(path));
        }

        BlockIndex reread = BlockIndex.Read(frozen.Index.ToBytes());
        await using BlockLayerStack snapshot = image.Open(index: reread, options: new BlockStackOptions { CacheDirectory = Path.Combine(image.Root, "cache2") });
        Assert.Equal(expected, await BlockTestImage.HashDiskAsync(snapshot));
    }
}

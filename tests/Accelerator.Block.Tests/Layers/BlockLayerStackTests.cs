using System.Net;
using Microsoft.AspNetCore.Http;
using Accelerator.Block.Conversion;
using Accelerator.Block.Format;
using Accelerator.Block.Layers;
using Accelerator.Block.Tests.Support;
using Accelerator.Oci.Registry;
using Accelerator.Testing;
using Accelerator.Testing.Registry;

namespace Accelerator.Block.Tests.Layers;

public sealed class BlockLayerStackTests
{
    [Fact]
    public async Task ReadAsync_WholeDisk_EqualsRawImageByteForByte()
    {
        using var image = await BlockTestImage.CreateAsync();
        await using BlockLayerStack stack = image.Open();

        Assert.Equal(new FileInfo(image.RawPath).Length, stack.Size);
        Assert.Equal(image.HashRaw(), await BlockTestImage.HashDiskAsync(stack));
        Assert.True(stack.IsReadOnly);
        Assert.Equal(BlockFormat.DefaultBlockSize, stack.BlockSize);
        // Every stored block was fetched once, in requests merged over adjacent blocks.
        Assert.Equal(image.Index.StoredBlockCount, stack.Statistics.FetchedBlocks);
        Assert.True(stack.Statistics.Requests < image.Index.StoredBlockCount, $"{stack.Statistics.Requests} requests");
    }

    [Fact]
    public async Task WriteAsync_SmallBlocks_ZeroBlocksSkippedAndDuplicatesStoredOnce()
    {
        using var image = await BlockTestImage.CreateAsync(new BlockWriteOptions { BlockSize = 4096 });
        BlockImageBuild build = image.Build;

        Assert.True(build.ZeroBlocks > build.Blocks / 2, $"{build.ZeroBlocks} of {build.Blocks} blocks are zeros");
        Assert.True(build.DuplicateBlocks >= 70, $"the 300 KB file's copy is {build.DuplicateBlocks} duplicate blocks");
        Assert.Equal(build.Blocks - build.ZeroBlocks - build.DuplicateBlocks, image.Index.StoredBlockCount);
        Assert.True(build.StoredBytes < (build.Blocks - build.ZeroBlocks) * 4096L);
        await using BlockLayerStack stack = image.Open();
        Assert.Equal(image.HashRaw(), await BlockTestImage.HashDiskAsync(stack, 12_345));
    }

    [Fact]
    public async Task ReadAsync_ConcurrentReadsOfOneMissingBlock_FetchedOnce()
    {
        using var image = await BlockTestImage.CreateAsync();
        await using BlockLayerStack stack = image.Open();
        long block = image.Index.Layers[0][^1].FirstBlock;
        long offset = block * stack.BlockSize;

        var reads = Enumerable.Range(0, 16).Select(i => Task.Run(async () =>
        {
            byte[] buffer = new byte[4096];
            await stack.ReadAsync(offset + (i * 4096), buffer);
            return buffer;
        })).ToArray();
        await Task.WhenAll(reads);

        Assert.Equal(1, image.Source.RangeReads);
        Assert.Equal(1, stack.Statistics.FetchedBlocks);
        byte[] expected = new byte[16 * 4096];
        using (var raw = File.OpenRead(image.RawPath))
        {
            raw.Position = offset;
            raw.ReadExactly(expected);
        }

        Assert.Equal(expected, reads.SelectMany(r => r.Result).ToArray());
    }

    [Fact]
    public async Task ReadAsync_SecondOpenOfSameCache_ServedFromVerifiedFilesWithoutFetching()
    {
        using var image = await BlockTestImage.CreateAsync();
        await using (BlockLayerStack first = image.Open())
        {
            await BlockTestImage.HashDiskAsync(first);
        }

        long before = image.Source.RangeReads;
        await using BlockLayerStack second = image.Open();

        Assert.Equal(image.HashRaw(), await BlockTestImage.HashDiskAsync(second));
        Assert.Equal(before, image.Source.RangeReads);
        Assert.Equal(0, second.Statistics.FetchedBlocks);
    }

    [Fact]
    public async Task ReadAsync_CorruptedBlockInBlob_IOExceptionAndNotCached()
    {
        using var image = await BlockTestImage.CreateAsync();
        StoredBlock victim = image.Index.GetStoredBlock(image.Index.StoredBlockCount / 2);
        var (blob, path) = image.Build.Blobs[victim.Blob];
        byte[] bytes = File.ReadAllBytes(path);
        bytes[victim.CompressedOffset + (victim.CompressedLength / 2)] ^= 0x40;
        var corrupt = new InMemoryBlobSource();
        corrupt.AddUnverified(blob.Digest, bytes);
        long block = image.Index.Layers[0].First(e => e.StoredBlock == image.Index.StoredBlockCount / 2).FirstBlock;

        await using (BlockLayerStack stack = image.Open(corrupt))
        {
            await Assert.ThrowsAnyAsync<IOException>(async () => await stack.ReadAsync(block * stack.BlockSize, new byte[512]));
            Assert.Equal(1, stack.Statistics.Errors);
        }

        // Nothing bad was cached: the same cache with a good source serves the right bytes.
        await using BlockLayerStack good = image.Open();
        Assert.Equal(image.HashRaw(), await BlockTestImage.HashDiskAsync(good));
    }

    [Fact]
    public async Task ReadAsync_RegistryAnswers500_IOExceptionNeverZeros()
    {
        using var image = await BlockTestImage.CreateAsync();
        int requests = 0;
        await using var server = await LoopbackHttpServer.StartAsync(async context =>
        {
            Interlocked.Increment(ref requests);
            context.Response.StatusCode = (int)HttpStatusCode.InternalServerError;
            await context.Response.WriteAsync("storage backend down");
        });
        using var client = new RegistryClient(new RegistryOptions { PlainHttp = true, MaxRetries = 0 });
        IBlobSource registry = client.GetStore(server.Host).Blobs;
        await using BlockLayerStack stack = image.Open(registry);
        long block = image.Index.Layers[0][0].FirstBlock;
        byte[] buffer = new byte[4096];
        Array.Fill(buffer, (byte)0xEE);

        await Assert.ThrowsAnyAsync<IOException>(async () => await stack.ReadAsync(block * stack.BlockSize, buffer));

        Assert.All(buffer, b => Assert.Equal(0xEE, b));
        Assert.True(requests >= 1);
        // The block stays absent: the next read asks again.
        await Assert.ThrowsAnyAsync<IOException>(async () => await stack.ReadAsync(block * stack.BlockSize, buffer));
        Assert.True(requests >= 2);
    }

    [Fact]
    public async Task ReadAsync_OutOfRangeOrWrite_ContractErrors()
    {
        using var image = await BlockTestImage.CreateAsync();
        await using BlockLayerStack stack = image.Open();

        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(async () => await stack.ReadAsync(stack.Size - 10, new byte[11]));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(async () => await stack.ReadAsync(-1, new byte[1]));
        await stack.ReadAsync(stack.Size, Memory<byte>.Empty);
        Assert.Throws<NotSupportedException>(() => stack.WriteAsync(0, new byte[1]));
        Assert.Throws<NotSupportedException>(() => stack.TrimAsync(0, 4096));
        Assert.Throws<NotSupportedException>(() => stack.WriteZeroesAsync(0, 4096));
    }
}

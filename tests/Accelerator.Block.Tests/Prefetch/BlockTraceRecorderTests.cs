using Accelerator.Block.Format;
using Accelerator.Block.Layers;
using Accelerator.Block.Prefetch;
using Accelerator.Block.Tests.Support;

namespace Accelerator.Block.Tests.Prefetch;

public sealed class BlockTraceRecorderTests
{
    [Fact]
    public async Task ReadAsync_ThroughRecorder_BlocksInFirstReadOrderAndReplayedOnNextOpen()
    {
        using var image = await BlockTestImage.CreateAsync();
        var extents = image.Index.Layers[0];
        long[] wanted = [extents[^1].FirstBlock, extents[0].FirstBlock, extents[^1].FirstBlock, extents[1].FirstBlock];
        await using (BlockLayerStack stack = image.Open())
        {
            var recorder = new BlockTraceRecorder(stack, image.Index.BlockSize);
            foreach (long block in wanted)
            {
                await recorder.ReadAsync((block * stack.BlockSize) + 10, new byte[100]);
            }

            Assert.Equal(wanted.Distinct(), recorder.Blocks);
            recorder.WriteToFile(Path.Combine(image.Root, "trace.txt"));
        }

        IReadOnlyList<long> trace = BlockTraceRecorder.ReadFile(Path.Combine(image.Root, "trace.txt"));
        Assert.Equal(wanted.Distinct(), trace);
        BlockIndex withTrace = BlockIndex.Read(image.Index.WithPrefetch(trace).ToBytes());

        // A fresh cache: opening replays the trace in the background; the traced reads then fetch nothing.
        await using BlockLayerStack next = image.Open(index: withTrace, options: new BlockStackOptions { CacheDirectory = Path.Combine(image.Root, "cache2") });
        await next.PrefetchCompletion;
        long requests = image.Source.RangeReads;
        Assert.Equal(3, next.Statistics.PrefetchedBlocks);
        foreach (long block in wanted)
        {
            await next.ReadAsync(block * next.BlockSize, new byte[next.BlockSize]);
        }

        Assert.Equal(requests, image.Source.RangeReads);
    }

    [Fact]
    public void ReadFile_CommentsBlankLinesAndBadLines()
    {
        string path = Path.Combine(Path.GetTempPath(), $"accel-trace-{Guid.NewGuid():N}.txt");
        try
        {
            File.WriteAllText(path, "# trace\n\n 5 \n3\n");
            Assert.Equal([5L, 3L], BlockTraceRecorder.ReadFile(path));
            File.WriteAllText(path, "5\n-3\n");
            Assert.Contains("Line 2", Assert.Throws<InvalidDataException>(() => BlockTraceRecorder.ReadFile(path)).Message);
            File.WriteAllText(path, "12abc\n");
            Assert.Throws<InvalidDataException>(() => BlockTraceRecorder.ReadFile(path));
        }
        finally
        {
            File.Delete(path);
        }
    }
}

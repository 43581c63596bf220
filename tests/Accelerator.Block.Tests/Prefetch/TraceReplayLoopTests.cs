using Accelerator.Block.Mounting;
using Accelerator.Block.Prefetch;
using Accelerator.Block.Tests.Cli;
using Accelerator.Block.Tests.Support;
using Accelerator.Oci;
using Accelerator.Oci.Registry;
using Accelerator.Testing.Images;
using Accelerator.Testing;
using Accelerator.Testing.Processes;

namespace Accelerator.Block.Tests.Prefetch;

/// <summary>
/// The prefetch loop of issue 6: a block mount records the blocks a start reads, the image is converted again with that
/// trace, and the next mount replays it in the background, so the start's reads fetch nothing.
/// </summary>
[Collection(BlockCollection.Name)]
public sealed class TraceReplayLoopTests(BlockFixture fixture) : IDisposable
{
    private static readonly TimeSpan PrefetchBound = TimeSpan.FromMinutes(2);

    private readonly RegistryClient _client = new(new RegistryOptions { PlainHttp = true });
    private readonly string _work = fixture.NewDirectory("trace-loop");

    public void Dispose()
    {
        _client.Dispose();
        Directory.Delete(_work, recursive: true);
    }

    // Readahead off, so the blocks fetched are those the files' reads ask for; a fresh cache per mount.
    private BlockMountOptions NewOptions(string? tracePath) => new()
    {
        StateDirectory = _work,
        CacheDirectory = Path.Combine(_work, "cache-" + Guid.NewGuid().ToString("N")[..8]),
        ReadAheadKilobytes = 0,
        TracePath = tracePath,
    };

    private BlockMounter NewMounter(BlockMountOptions options) => new([new BlockImageOpener(new ImageStoreResolver(_client), options)], options);

    private string NewMountPoint() => Directory.CreateDirectory(Path.Combine(_work, "mnt-" + Guid.NewGuid().ToString("N")[..8])).FullName;

    private static void ReadStart(string mountPoint)
    {
        Assert.Equal(ConformancePaths.LargeFileSize, File.ReadAllBytes(Path.Combine(mountPoint, ConformancePaths.LargeFile)).Length);
        Assert.Equal(ConformancePaths.SmallFileContent, File.ReadAllText(Path.Combine(mountPoint, ConformancePaths.SmallFile)));
    }

    [Fact]
    public async Task MountAsync_RecordConvertRemount_ReplayedBlocksServeTheStart()
    {
        // 1. Mount, start (read some files), unmount: the trace is written.
        string trace = Path.Combine(_work, "start.trace");
        await using (var first = (BlockMountedImage)await NewMounter(NewOptions(trace)).MountAsync(fixture.BlockReference, NewMountPoint(), new MountOptions { ReadOnly = true }))
        {
            Assert.Equal(trace, first.TracePath);
            long beforeStart = first.Statistics.BytesFetched;
            ReadStart(first.MountPoint);
            Assert.True(first.Statistics.BytesFetched > beforeStart, "Without a trace, the start's reads must fetch blocks.");
        }

        IReadOnlyList<long> blocks = BlockTraceRecorder.ReadFile(trace);
        Assert.NotEmpty(blocks);
        Assert.Equal(blocks.Count, blocks.Distinct().Count());
        Assert.All(blocks, b => Assert.InRange(b, 0, (fixture.Converted.DiskSize / fixture.Converted.Index.BlockSize) - 1));

        // 2. Convert again with the trace: it is stored in the index.
        string layout = fixture.NewDirectory("traced-layout");
        var converted = await fixture.ConvertAsync(layout, "traced-accel-block", BlockFixture.ConvertOptions with { PrefetchBlocks = blocks });
        Assert.Equal(0, converted.PrefetchMissing);
        Assert.NotEmpty(converted.Index.Prefetch);

        // 3. Mount it with an empty cache: the trace is replayed in the background, and the start then fetches nothing.
        var reference = ImageReference.Parse($"oci:{layout}:traced-accel-block");
        await using var second = (BlockMountedImage)await NewMounter(NewOptions(null)).MountAsync(reference, NewMountPoint(), new MountOptions { ReadOnly = true });
        Assert.Null(second.TracePath);
        await second.PrefetchCompletion.WaitAsync(PrefetchBound);
        Assert.True(second.StackStatistics!.PrefetchedBlocks > 0, "The replay prefetched no block.");
        long fetchedBeforeStart = second.Statistics.BytesFetched;
        long blocksBeforeStart = second.StackStatistics.FetchedBlocks;

        ReadStart(second.MountPoint);

        Assert.Equal(fetchedBeforeStart, second.Statistics.BytesFetched);
        Assert.Equal(blocksBeforeStart, second.StackStatistics.FetchedBlocks);
        Assert.True(second.StackStatistics.CacheHits > 0);
    }

    [Fact]
    public async Task AccelMountBlock_RecordTrace_WritesTheBlocksReadAtUnmount()
    {
        string mountPoint = NewMountPoint();
        string trace = Path.Combine(_work, "cli-mount.trace");
        await using var accel = AccelProcess.Start(
            "mount", fixture.BlockReference.ToString(), mountPoint, "--strategy", "block", "--read-only", "--cache-dir", Path.Combine(_work, "cli-cache"), "--record-trace", trace);
        await accel.WaitUntilAsync(() => accel.Output.Contains("Stop with Ctrl+C", StringComparison.Ordinal));
        ReadStart(mountPoint);

        Assert.Equal(0, await accel.TerminateAsync());

        Assert.StartsWith("# Block trace", File.ReadLines(trace).First(), StringComparison.Ordinal);
        Assert.NotEmpty(BlockTraceRecorder.ReadFile(trace));
    }

    [Fact]
    public async Task AccelBlockServe_RecordTrace_WritesTheBlocksClientsReadAtShutdown()
    {
        string socket = Path.Combine(_work, "trace.sock");
        string trace = Path.Combine(_work, "cli-serve.trace");
        await using var accel = AccelProcess.Start(
            "block", "serve", fixture.BlockReference.ToString(), "--nbd", "unix:" + socket, "--cache-dir", Path.Combine(_work, "serve-cache"), "--record-trace", trace);
        await accel.WaitUntilAsync(() => accel.Output.Contains("Stop with Ctrl+C", StringComparison.Ordinal));
        await Tool.CheckAsync("nbdcopy", $"nbd+unix:///?socket={socket}", Path.Combine(_work, "copy.raw"));

        Assert.Equal(0, await accel.TerminateAsync());

        // nbdcopy read the disk from its first block on; each block is listed once.
        IReadOnlyList<long> blocks = BlockTraceRecorder.ReadFile(trace);
        Assert.Contains(0L, blocks);
        Assert.Equal(blocks.Count, blocks.Distinct().Count());
        Assert.All(blocks, b => Assert.InRange(b, 0, (fixture.Converted.DiskSize / fixture.Converted.Index.BlockSize) - 1));
        Assert.Contains("Wrote the trace of", accel.Output, StringComparison.Ordinal);
    }
}

using Accelerator.Block.Conversion;
using Accelerator.Block.Layers;

namespace Accelerator.Block.Tests.Conversion;

public sealed class BlockOptionsTests
{
    [Fact]
    public void Validators_Defaults_Succeed()
    {
        Assert.True(new BlockConvertOptionsValidator().Validate(null, new BlockConvertOptions()).Succeeded);
        Assert.True(new BlockWriteOptionsValidator().Validate(null, new BlockWriteOptions()).Succeeded);
        Assert.True(new BlockStackOptionsValidator().Validate(null, new BlockStackOptions { CacheDirectory = "/tmp/x" }).Succeeded);
        Assert.True(new BlockStackOptionsValidator().Validate(null, new BlockStackOptions { CacheDirectory = "/tmp/x", RequestTimeout = Timeout.InfiniteTimeSpan }).Succeeded);
    }

    [Fact]
    public void BlockConvertOptionsValidator_InvalidOptions_NamesEveryFailure()
    {
        var options = new BlockConvertOptions { BlockSize = 3000, FreeBytes = -1, DataBlobSize = 1, MaxParallelUploads = 0 };

        var result = new BlockConvertOptionsValidator().Validate(null, options);

        Assert.Equal(
            [
                "BlockSize must be a power of two from 4096 (4 KiB) to 1048576 (1 MiB) bytes.",
                "FreeBytes must not be negative.",
                "DataBlobSize must be at least the block size.",
                "MaxParallelism and MaxParallelUploads must be at least 1.",
            ],
            result.Failures);
    }

    [Fact]
    public async Task BlockImageWriter_InvalidOptions_ArgumentOutOfRangeBeforeAnyWork()
    {
        string output = Path.Combine(Path.GetTempPath(), $"accel-block-options-{Guid.NewGuid():N}");

        var error = await Assert.ThrowsAsync<ArgumentOutOfRangeException>(
            () => BlockImageWriter.WriteAsync("/nonexistent", output, new BlockWriteOptions { BlockSize = 1 << 21, MaxParallelism = 0 }));

        Assert.Equal(
            "Invalid block write options: BlockSize must be a power of two from 4096 (4 KiB) to 1048576 (1 MiB) bytes. MaxParallelism must be at least 1.",
            error.Message);
        Assert.False(Directory.Exists(output));
    }

    [Fact]
    public void BlockStackOptionsValidator_InvalidOptions_NamesEveryFailure()
    {
        var options = new BlockStackOptions
        {
            CacheDirectory = "", MaxConcurrentPrefetches = 0, MaxRequestBytes = 4096, MergeGapBytes = -1, RequestTimeout = TimeSpan.Zero,
        };

        var result = new BlockStackOptionsValidator().Validate(null, options);

        Assert.Equal(5, result.Failures!.Count());
        Assert.Contains("CacheDirectory", result.Failures!.First(), StringComparison.Ordinal);
        Assert.Equal(
            [
                "MaxConcurrentFetches and MaxConcurrentPrefetches must be at least 1.",
                "MaxRequestBytes must be at least 1048576 (the largest block).",
                "MergeGapBytes, MaxCacheBytes and MaxOpenCacheFiles must not be negative.",
                "RequestTimeout must be positive or infinite.",
            ],
            result.Failures!.Skip(1));
    }
}

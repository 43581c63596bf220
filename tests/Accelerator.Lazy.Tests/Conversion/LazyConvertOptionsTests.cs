using Accelerator.Lazy.Conversion;

namespace Accelerator.Lazy.Tests.Conversion;

public sealed class LazyConvertOptionsTests
{
    [Fact]
    public void Validate_Defaults_Succeed()
        => Assert.True(new LazyConvertOptionsValidator().Validate(null, new LazyConvertOptions()).Succeeded);

    [Fact]
    public void Validate_InvalidOptions_NamesEveryFailure()
    {
        var options = new LazyConvertOptions { ChunkSize = 100_000, MaxParallelism = 0, MaxParallelUploads = 0, DataBlobSize = 1, MaxLayerBytes = 0 };

        var result = new LazyConvertOptionsValidator().Validate(null, options);

        Assert.Equal(
            [
                "ChunkSize must be a power of two from 65536 (64 KiB) to 16777216 (16 MiB) bytes.",
                "MaxParallelism must be at least 1.",
                "MaxParallelUploads must be at least 1.",
                "DataBlobSize must be at least the chunk size.",
                "Layer limits must be positive.",
            ],
            result.Failures);
    }
}

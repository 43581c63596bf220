using Accelerator.Chunks.Caching;

namespace Accelerator.Chunks.Tests.Caching;

public sealed class ChunkCacheOptionsTests
{
    [Fact]
    public void Validate_Defaults_Succeed()
        => Assert.True(new ChunkCacheOptionsValidator().Validate(null, new ChunkCacheOptions { Directory = "/tmp/x" }).Succeeded);

    [Fact]
    public void Validate_InvalidOptions_NamesEveryFailure()
    {
        var options = new ChunkCacheOptions { Directory = "/tmp/x", MaxCacheBytes = 10, MaxOpenFiles = -1, StaleTemporaryFileAge = TimeSpan.FromSeconds(-1) };

        var result = new ChunkCacheOptionsValidator().Validate(null, options);

        Assert.Equal(
            [
                $"MaxCacheBytes must be 0 (no bound) or at least {ChunkCacheOptions.MinMaxCacheBytes} bytes.",
                "MaxOpenFiles must not be negative.",
                "StaleTemporaryFileAge must not be negative.",
            ],
            result.Failures);
    }

    [Theory]
    [InlineData("")]
    [InlineData("  ")]
    public void Open_NoDirectory_ArgumentOutOfRangeNamingIt(string directory)
    {
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => ChunkCache.Open(new ChunkCacheOptions { Directory = directory, MaxOpenFiles = -1 }));

        Assert.StartsWith("Invalid chunk cache options: ", error.Message, StringComparison.Ordinal);
        Assert.Contains("Directory", error.Message, StringComparison.Ordinal);
        Assert.Contains("MaxOpenFiles must not be negative.", error.Message, StringComparison.Ordinal);
    }
}

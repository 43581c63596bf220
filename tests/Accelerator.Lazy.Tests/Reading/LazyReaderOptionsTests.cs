using Accelerator.Lazy.Mounting;
using Accelerator.Lazy.Reading;

namespace Accelerator.Lazy.Tests.Reading;

public sealed class LazyReaderOptionsTests
{
    [Fact]
    public void Validate_Defaults_Succeed()
        => Assert.True(new LazyReaderOptionsValidator().Validate(null, new LazyReaderOptions()).Succeeded);

    [Fact]
    public void Validate_InvalidOptions_NamesEveryFailure()
    {
        var options = new LazyReaderOptions
        {
            MaxConcurrentFetches = 0, MaxRequestBytes = 8192, MergeGapBytes = 8193, ReadAheadBytes = -1, SourceName = " ",
            RequestTimeout = TimeSpan.Zero,
        };

        var result = new LazyReaderOptionsValidator().Validate(null, options);

        Assert.Equal(
            [
                "MaxConcurrentFetches must be at least 1.",
                "MergeGapBytes must be 0 to MaxRequestBytes.",
                "ReadAheadBytes must be 0 to MaxRequestBytes.",
                "SourceName must be set.",
                "RequestTimeout must be positive, or Timeout.InfiniteTimeSpan.",
            ],
            result.Failures);
    }

    [Fact]
    public void Validate_InfiniteRequestTimeout_Succeeds()
        => Assert.True(new LazyReaderOptionsValidator().Validate(null, new LazyReaderOptions { RequestTimeout = Timeout.InfiniteTimeSpan }).Succeeded);

    [Fact]
    public void LazyMountOptionsValidator_InvalidReader_FailuresPrefixedReader()
    {
        var options = new LazyMountOptions { Reader = new LazyReaderOptions { MaxConcurrentPrefetches = 0, MaxRequestBytes = 1 << 30 } };

        var result = new LazyMountOptionsValidator().Validate(null, options);

        Assert.Equal(["Reader: MaxConcurrentPrefetches must be at least 1.", $"Reader: MaxRequestBytes must be 4096 to {256 << 20} bytes."], result.Failures);
    }
}

using Accelerator.Testing.Samples;

namespace Accelerator.Testing.Tests.Samples;

public sealed class SampleImageOptionsTests
{
    [Fact]
    public void Validate_Defaults_Succeed()
        => Assert.True(new SampleImageOptionsValidator().Validate(null, new SampleImageOptions()).Succeeded);

    [Theory]
    [InlineData(double.NaN)]
    [InlineData(-0.1)]
    [InlineData(1.1)]
    public void Validate_CompressibleFractionOutside0To1_Fails(double fraction)
    {
        var result = new SampleImageOptionsValidator().Validate(null, new SampleImageOptions { CompressibleFraction = fraction });

        Assert.True(result.Failed);
        Assert.Contains("CompressibleFraction", result.FailureMessage, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_InvalidOptions_NamesEveryFailure()
    {
        var options = new SampleImageOptions { LayerCount = 1001, TotalSize = -1, Tag = "", Architecture = null! };

        var result = new SampleImageOptionsValidator().Validate(null, options);

        Assert.Equal(4, result.Failures!.Count());
        Assert.Contains(result.Failures!, f => f.Contains("LayerCount", StringComparison.Ordinal));
        Assert.Contains(result.Failures!, f => f.Contains("Tag", StringComparison.Ordinal));
        Assert.Contains(result.Failures!, f => f.Contains("Architecture", StringComparison.Ordinal));
        Assert.Contains("TotalSize must not be negative.", result.Failures!);
    }
}

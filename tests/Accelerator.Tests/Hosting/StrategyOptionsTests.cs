using Microsoft.Extensions.Options;

namespace Accelerator.Tests.Hosting;

/// <summary>The strategies' options are checked when the accelerator is built, and the failure says why.</summary>
public sealed class StrategyOptionsTests
{
    [Fact]
    public void Build_LazyCacheMaxBytesNegative_FailsWithTheReason()
    {
        var builder = new ImageAcceleratorBuilder().UseLazyMount(o => o.CacheMaxBytes = -1);

        var error = Assert.Throws<OptionsValidationException>(() => builder.Build());

        Assert.Contains("Invalid lazy mount options: CacheMaxBytes must not be negative.", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Build_BlockSectorSizeOdd_FailsWithTheReason()
    {
        var builder = new ImageAcceleratorBuilder().UseBlockDevice(o => o.SectorSize = 1000);

        var error = Assert.Throws<OptionsValidationException>(() => builder.Build());

        Assert.Contains("Invalid block mount options: SectorSize must be 512, 1024, 2048 or 4096.", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Build_SnapshotRootEmpty_FailsWithTheReason()
    {
        var builder = new ImageAcceleratorBuilder().UseSnapshotCache(o => o.Root = string.Empty);

        var error = Assert.Throws<OptionsValidationException>(() => builder.Build());

        Assert.Contains("Invalid snapshot cache options: Root must be set.", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Build_StrategyAddedTwice_LaterConfigurationApplies()
    {
        var builder = new ImageAcceleratorBuilder()
            .UseLazyMount(o => o.CacheMaxBytes = -1)
            .UseLazyMount(o => o.CacheMaxBytes = 1024);

        var error = Record.Exception(() => builder.Build().DisposeAsync().AsTask().GetAwaiter().GetResult());

        Assert.Null(error);
    }
}

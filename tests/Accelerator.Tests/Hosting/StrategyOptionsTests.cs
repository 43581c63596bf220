using Microsoft.Extensions.Options;

namespace Accelerator.Tests.Hosting;

/// <summary>The strategies' options are checked when the accelerator is built, and the failure says why.</summary>
public sealed class StrategyOptionsTests
{
    [Fact]
    public void Build_LazyMaxCacheBytesNegative_FailsWithTheReason()
    {
        var builder = new ImageAcceleratorBuilder().UseLazyMount(o => o.MaxCacheBytes = -1);

        var error = Assert.Throws<OptionsValidationException>(() => builder.Build());

        Assert.Contains("Invalid lazy mount options: MaxCacheBytes must not be negative.", error.Message, StringComparison.Ordinal);
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
            .UseLazyMount(o => o.MaxCacheBytes = -1)
            .UseLazyMount(o => o.MaxCacheBytes = 1024);

        var error = Record.Exception(() => builder.Build().DisposeAsync().AsTask().GetAwaiter().GetResult());

        Assert.Null(error);
    }

    [Fact]
    public void Build_LazyRequestTimeoutZero_FailsWithTheReason()
    {
        var builder = new ImageAcceleratorBuilder().UseLazyMount(o => o.RequestTimeout = TimeSpan.Zero);

        var error = Assert.Throws<OptionsValidationException>(() => builder.Build());

        Assert.Contains("Invalid lazy mount options: RequestTimeout must be positive and at most 24 hours.", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("lazy")]
    [InlineData("block")]
    public void Build_FetchBoundOverADay_FailsWithTheReason(string strategy)
    {
        var tooLong = TimeSpan.FromHours(25);
        var builder = strategy == "lazy"
            ? new ImageAcceleratorBuilder().UseLazyMount(o => o.RequestTimeout = tooLong)
            : new ImageAcceleratorBuilder().UseBlockDevice(o => o.RequestTimeout = tooLong);

        var error = Assert.Throws<OptionsValidationException>(() => builder.Build());

        Assert.Contains($"Invalid {strategy} mount options: RequestTimeout must be positive and at most 24 hours.", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Build_BlockReadAheadOutOfRange_FailsNamingTheMember()
    {
        var builder = new ImageAcceleratorBuilder().UseBlockDevice(o => o.ReadAheadKilobytes = -1);

        var error = Assert.Throws<OptionsValidationException>(() => builder.Build());

        Assert.Contains("Invalid block mount options: ReadAheadKilobytes: The field BlockMountOptions.ReadAheadKilobytes must be between 0 and 1048576.", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Build_SnapshotRootWithComma_FailsWithTheReason()
    {
        var builder = new ImageAcceleratorBuilder().UseSnapshotCache(o => o.Root = "/var/lib/a,b");

        var error = Assert.Throws<OptionsValidationException>(() => builder.Build());

        Assert.Contains("Invalid snapshot cache options: Root must not contain ','", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Build_SeveralProblems_ReportsEach()
    {
        var builder = new ImageAcceleratorBuilder().UseBlockDevice(o =>
        {
            o.SectorSize = 1000;
            o.MaxCacheBytes = -1;
        });

        var error = Assert.Throws<OptionsValidationException>(() => builder.Build());

        Assert.Contains("SectorSize must be 512, 1024, 2048 or 4096.", error.Message, StringComparison.Ordinal);
        Assert.Contains("MaxCacheBytes must not be negative.", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Constructor_InvalidOptions_SameRuleAndMessageAsAtStart()
    {
        // The mounter validates outside DI with the same generated validator the host runs at start.
        using var registries = new Oci.Registry.RegistryClient(new Oci.Registry.RegistryOptions());
        var options = new Lazy.Mounting.LazyMountOptions { MaxCacheBytes = -1 };

        var error = Assert.Throws<ArgumentException>(() => new Lazy.Mounting.LazyMounter(new Oci.ImageStoreResolver(registries), options));

        Assert.Equal("Invalid lazy mount options: MaxCacheBytes must not be negative.", error.Message);
    }
}

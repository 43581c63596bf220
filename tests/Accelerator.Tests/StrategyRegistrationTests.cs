using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Accelerator.Tests;

/// <summary>Strategies are open names; each registration declares where it goes in the default order.</summary>
public sealed class StrategyRegistrationTests
{
    private static readonly Strategy Custom = Strategy.Parse("custom");

    [Fact]
    public async Task Strategies_NewStrategyWithOrder_SlotsInBetweenTheBuiltInOnes()
    {
        await using var accelerator = new ImageAcceleratorBuilder()
            .UseFullPull()
            .UseLazyMount()
            .AddStrategy(Custom, 150, _ => new NamedMounter(Custom))
            .UseSnapshotCache(o => o.Root = Path.Combine(Path.GetTempPath(), "accel-never-created"))
            .UseBlockDevice()
            .Build();

        Assert.Equal([Strategy.Cache, Custom, Strategy.Lazy, Strategy.Block, Strategy.Full], accelerator.Strategies);
    }

    [Fact]
    public async Task MountAsync_NewStrategy_ServesAndIsNamedInTheStatistics()
    {
        await using var accelerator = new ImageAcceleratorBuilder()
            .UseFullPull()
            .AddStrategy(Custom, 10, _ => new NamedMounter(Custom))
            .Build();

        await using var mounted = await accelerator.MountAsync(ImageReference.Parse("registry.test/app:1"), "/mnt/x");

        Assert.Equal("custom", mounted.Statistics.Strategy.Name);
    }

    [Fact]
    public async Task AddStrategy_Twice_FirstMounterAndOrderKept()
    {
        await using var accelerator = new ImageAcceleratorBuilder()
            .UseFullPull()
            .AddStrategy(Custom, 2000, _ => new NamedMounter(Custom))
            .AddStrategy(Custom, 1, _ => new NamedMounter(Custom))
            .Build();

        Assert.Equal([Strategy.Full, Custom], accelerator.Strategies);
        Assert.Single(accelerator.Services.GetServices<IImageMounter>(), m => m.Strategy == Custom);
    }

    [Fact]
    public async Task Strategies_ConfiguredNameWithoutMounter_SkippedWithAWarningNamingIt()
    {
        var logs = new Support.CapturingLoggerProvider();
        var builder = new ImageAcceleratorBuilder()
            .UseFullPull()
            .PreferStrategies(Strategy.Parse("lazzy"), Strategy.Full);
        builder.Services.AddLogging(logging => logging.AddProvider(logs));
        await using var accelerator = builder.Build();

        Assert.Equal([Strategy.Full], accelerator.Strategies);
        Assert.Contains(logs.Entries, e => e.Level == LogLevel.Warning && e.Message.Contains("lazzy", StringComparison.Ordinal) && e.Message.Contains("full", StringComparison.Ordinal));
    }

    [Fact]
    public async Task PreferStrategies_OverridesTheDeclaredOrder()
    {
        await using var accelerator = new ImageAcceleratorBuilder()
            .UseFullPull()
            .AddStrategy(Custom, 10, _ => new NamedMounter(Custom))
            .PreferStrategies(Strategy.Full, Custom)
            .Build();

        Assert.Equal([Strategy.Full, Custom], accelerator.Strategies);
    }

    [Fact]
    public async Task Strategies_BoundFromConfigurationInAnyCase_ParseToNames()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Strategies:0"] = "Custom",
            ["Strategies:1"] = "full",
        }).Build();
        var services = new ServiceCollection();
        services.Configure<ImageAcceleratorOptions>(configuration);
        services.AddImageAccelerator(a => a.UseFullPull().AddStrategy(Custom, 2000, _ => new NamedMounter(Custom)));
        await using var provider = services.BuildServiceProvider();

        Assert.Equal([Custom, Strategy.Full], provider.GetRequiredService<IOptions<ImageAcceleratorOptions>>().Value.Strategies);
        Assert.Equal([Custom, Strategy.Full], provider.GetRequiredService<IImageAccelerator>().Strategies);
    }

    [Fact]
    public void Strategies_BoundFromConfigurationWithInvalidName_EntryIsDropped()
    {
        // As with the enum before: the binder skips a list element it cannot convert.
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Strategies:0"] = "not a name",
            ["Strategies:1"] = "full",
        }).Build();

        Assert.Equal([Strategy.Full], configuration.Get<ImageAcceleratorOptions>()!.Strategies!);
    }

    [Fact]
    public void Build_UnnamedStrategyInOrder_FailsAtStart()
    {
        var builder = new ImageAcceleratorBuilder().UseFullPull().PreferStrategies(default(Strategy));

        var error = Assert.Throws<OptionsValidationException>(() => builder.Build());

        Assert.Contains("without a name", error.Message, StringComparison.Ordinal);
    }

    private sealed class NamedMounter(Strategy strategy) : IImageMounter
    {
        public Strategy Strategy => strategy;

        public ValueTask<(bool CanMount, string? Reason)> CanMountAsync(ImageReference image, CancellationToken cancellationToken = default)
            => ValueTask.FromResult<(bool, string?)>((true, null));

        public Task<IMountedImage> MountAsync(ImageReference image, string mountPoint, MountOptions options, CancellationToken cancellationToken = default)
            => Task.FromResult<IMountedImage>(new Mounted(image, mountPoint, new MountStatistics { Strategy = strategy }));
    }

    private sealed class Mounted(ImageReference image, string mountPoint, MountStatistics statistics) : IMountedImage
    {
        public ImageReference Image => image;

        public Digest ManifestDigest => Digest.Compute([]);

        public string MountPoint => mountPoint;

        public MountStatistics Statistics => statistics;

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}

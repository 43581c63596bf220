namespace Accelerator.Tests;

public sealed class ImageAcceleratorTests
{
    private static readonly ImageReference Image = ImageReference.Parse("registry.test/app:1");

    [Fact]
    public async Task MountAsync_FirstStrategyUnavailable_FallsBackAndReportsWhy()
    {
        await using var accelerator = new ImageAcceleratorBuilder()
            .PreferStrategies(Strategy.Lazy, Strategy.Full)
            .AddMounter<UnavailableLazyMounter>()
            .AddMounter<RecordingFullMounter>()
            .Build();

        await using var mounted = await accelerator.MountAsync(Image, "/mnt/x");

        Assert.Equal(Strategy.Full, mounted.Statistics.Strategy);
        var fallback = Assert.Single(mounted.Statistics.Fallbacks);
        Assert.Equal(Strategy.Lazy, fallback.Strategy);
        Assert.Equal("no lazy artifact", fallback.Reason);
    }

    [Fact]
    public async Task MountAsync_StrategyWithoutMounter_IsNotListed()
    {
        await using var accelerator = new ImageAcceleratorBuilder()
            .PreferStrategies(Strategy.Cache, Strategy.Full)
            .AddMounter<RecordingFullMounter>()
            .Build();

        Assert.Equal([Strategy.Full], accelerator.Strategies);
    }

    [Fact]
    public async Task MountAsync_NothingCanServe_ThrowsWithEveryReason()
    {
        await using var accelerator = new ImageAcceleratorBuilder()
            .PreferStrategies(Strategy.Lazy)
            .AddMounter<UnavailableLazyMounter>()
            .Build();

        var ex = await Assert.ThrowsAsync<InvalidOperationException>(() => accelerator.MountAsync(Image, "/mnt/x"));
        Assert.Contains("lazy: no lazy artifact", ex.Message);
    }

    [Fact]
    public async Task MountAsync_NoMounters_ThrowsClearly()
    {
        await using var accelerator = new ImageAcceleratorBuilder().Build();

        var ex = await Assert.ThrowsAsync<InvalidOperationException>(() => accelerator.MountAsync(Image, "/mnt/x"));
        Assert.Contains("No mounter", ex.Message);
    }

    [Fact]
    public async Task MountAsync_MountPointHeldByAnotherStrategy_AsksTheNextAndReportsWhy()
    {
        await using var accelerator = new ImageAcceleratorBuilder()
            .PreferStrategies(Strategy.Lazy, Strategy.Full)
            .AddMounter<HeldLazyMounter>()
            .AddMounter<RecordingFullMounter>()
            .Build();
        HeldLazyMounter.HeldBy = "full";

        await using var mounted = await accelerator.MountAsync(Image, "/mnt/held");

        Assert.Equal(Strategy.Full, mounted.Statistics.Strategy);
        var fallback = Assert.Single(mounted.Statistics.Fallbacks);
        Assert.Equal(Strategy.Lazy, fallback.Strategy);
        Assert.Contains("held by a live full mount", fallback.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task MountAsync_MountPointHeldWithOtherContentBySameStrategy_ThrowsItsError()
    {
        await using var accelerator = new ImageAcceleratorBuilder()
            .PreferStrategies(Strategy.Lazy, Strategy.Full)
            .AddMounter<HeldLazyMounter>()
            .AddMounter<RecordingFullMounter>()
            .Build();
        HeldLazyMounter.HeldBy = "lazy";

        var error = await Assert.ThrowsAsync<MountPointHeldException>(() => accelerator.MountAsync(Image, "/mnt/held"));

        Assert.Equal("/mnt/held", error.MountPoint);
        Assert.Equal("lazy", error.HeldStrategy);
    }

    // A lazy mounter that finds the mount point held (by the strategy HeldBy names), as a takeover would.
    private sealed class HeldLazyMounter : IImageMounter
    {
        public static string HeldBy { get; set; } = "full";

        public Strategy Strategy => Strategy.Lazy;

        public ValueTask<(bool CanMount, string? Reason)> CanMountAsync(ImageReference image, CancellationToken cancellationToken = default)
            => ValueTask.FromResult<(bool, string?)>((true, null));

        public Task<IMountedImage> MountAsync(ImageReference image, string mountPoint, MountOptions options, CancellationToken cancellationToken = default)
            => throw new MountPointHeldException(mountPoint, HeldBy, $"{mountPoint} is held by a live {HeldBy} mount of another image.");
    }

    private sealed class RecordingFullMounter : IImageMounter
    {
        public Strategy Strategy => Strategy.Full;

        public ValueTask<(bool CanMount, string? Reason)> CanMountAsync(ImageReference image, CancellationToken cancellationToken = default)
            => ValueTask.FromResult<(bool, string?)>((true, null));

        public Task<IMountedImage> MountAsync(ImageReference image, string mountPoint, MountOptions options, CancellationToken cancellationToken = default)
            => Task.FromResult<IMountedImage>(new Mounted(image, mountPoint));
    }

    private sealed class Mounted(ImageReference image, string mountPoint) : IMountedImage
    {
        public ImageReference Image => image;

        public Digest ManifestDigest => Digest.Compute([]);

        public string MountPoint => mountPoint;

        public MountStatistics Statistics { get; } = new() { Strategy = Strategy.Full };

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}

using System.Diagnostics.Metrics;
using Accelerator.Lazy.Conversion;
using Accelerator.Oci.Layout;
using Accelerator.Testing.Samples;
using Accelerator.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Accelerator.Tests;

/// <summary>
/// The facade with the real mounters: strategies that cannot serve an image are skipped, and each skip shows in the
/// mount's statistics, the log and the metrics, as does the strategy that served.
/// </summary>
public sealed class ImageAcceleratorFallbackTests : IAsyncLifetime
{
    private readonly string _temp = Directory.CreateTempSubdirectory("accel-fallback-").FullName;
    private readonly CapturingLoggerProvider _logs = new();
    private SampleImage _image = null!;

    public async Task InitializeAsync()
        => _image = await SampleImageGenerator.WriteLayoutAsync(Path.Combine(_temp, "layout"), new SampleImageOptions { LayerCount = 2, TotalSize = 512 * 1024, Seed = 11 });

    public Task DisposeAsync()
    {
        Directory.Delete(_temp, recursive: true);
        return Task.CompletedTask;
    }

    private ImageAcceleratorHost BuildEveryStrategy()
    {
        var builder = new ImageAcceleratorBuilder()
            .UseSnapshotCache(o =>
            {
                o.Root = Path.Combine(_temp, "snapshots");
                o.Durable = false;
            })
            .UseLazyMount(o =>
            {
                o.CacheDirectory = Path.Combine(_temp, "lazy-cache");
                o.StateDirectory = Path.Combine(_temp, "state");
            })
            .UseBlockDevice(o =>
            {
                o.CacheDirectory = Path.Combine(_temp, "block-cache");
                o.StateDirectory = Path.Combine(_temp, "state");
            })
            .UseFullPull();
        builder.Services.AddLogging(logging => logging.AddProvider(_logs).SetMinimumLevel(LogLevel.Debug));
        return builder.Build();
    }

    [Fact]
    public async Task MountAsync_NoAcceleratedArtifacts_FallsBackToFullAndReportsEachSkip()
    {
        await using var accelerator = BuildEveryStrategy();
        using var metrics = new AcceleratorMetricsRecorder(accelerator.Services.GetRequiredService<IMeterFactory>());
        var image = ImageReference.Parse(_image.OciReference);

        await using var mounted = await accelerator.MountAsync(image, Path.Combine(_temp, "rootfs"));

        Assert.Equal([Strategy.Cache, Strategy.Lazy, Strategy.Block, Strategy.Full], accelerator.Strategies);
        Assert.Equal(Strategy.Full, mounted.Statistics.Strategy);
        Assert.Equal([Strategy.Cache, Strategy.Lazy, Strategy.Block], mounted.Statistics.Fallbacks.Select(f => f.Strategy));
        Assert.Contains("no snapshot", mounted.Statistics.Fallbacks[0].Reason);
        Assert.Contains("-accel", mounted.Statistics.Fallbacks[1].Reason);
        Assert.All(mounted.Statistics.Fallbacks, f => Assert.False(string.IsNullOrWhiteSpace(f.Reason)));

        foreach (var (strategy, reason) in mounted.Statistics.Fallbacks)
        {
            string name = strategy.ToString().ToLowerInvariant();
            Assert.Contains(_logs.Entries, e => e.Category == "Accelerator.ImageAccelerator" && e.Message.Contains($"Strategy {name} cannot serve") && e.Message.Contains(reason));
            Assert.Equal(1, metrics.Sum("accelerator.mount.fallbacks", "strategy", name));
        }

        Assert.Contains(_logs.Entries, e => e.Category == "Accelerator.ImageAccelerator" && e.Message.Contains("with strategy full"));
        Assert.Equal(1, metrics.Sum("accelerator.mounts", "strategy", "full"));
        Assert.Equal(0, metrics.Sum("accelerator.mount.fallbacks", "strategy", "full"));
        Assert.Equal(_image.Layers.Sum(l => l.Size), metrics.Sum("accelerator.bytes_fetched", "source", "layout"));
    }

    [Fact]
    public async Task MountAsync_LazyArtifactPresent_LazyServesAfterTheCacheIsSkipped()
    {
        var source = ImageReference.Parse(_image.OciReference);
        var layout = OciImageLayout.Open(_image.LayoutPath);
        await LazyConverter.ConvertAsync(layout, source, layout, LazyConverter.DefaultTarget(source));
        await using var accelerator = BuildEveryStrategy();
        using var metrics = new AcceleratorMetricsRecorder(accelerator.Services.GetRequiredService<IMeterFactory>());
        string rootfs = Directory.CreateDirectory(Path.Combine(_temp, "rootfs-lazy")).FullName;

        await using (var mounted = await accelerator.MountAsync(source, rootfs, new MountOptions { ReadOnly = true }))
        {
            Assert.Equal(Strategy.Lazy, mounted.Statistics.Strategy);
            Assert.Equal(Strategy.Cache, Assert.Single(mounted.Statistics.Fallbacks).Strategy);
            var (path, size) = _image.Files[0];
            Assert.Equal(size, new FileInfo(Path.Combine(rootfs, path.TrimStart('/'))).Length);
        }

        Assert.Equal(1, metrics.Sum("accelerator.mounts", "strategy", "lazy"));
        Assert.Equal(1, metrics.Sum("accelerator.mount.fallbacks", "strategy", "cache"));
        Assert.Equal(0, metrics.Sum("accelerator.mount.fallbacks", "strategy", "lazy"));
        Assert.Contains(_logs.Entries, e => e.Message.Contains("with strategy lazy"));
    }
}

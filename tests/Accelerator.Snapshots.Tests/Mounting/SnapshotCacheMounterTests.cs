using Accelerator.Oci;
using Accelerator.Oci.Registry;
using Accelerator.Testing.Samples;
using Accelerator.Snapshots.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace Accelerator.Snapshots.Tests.Mounting;

/// <summary><see cref="SnapshotCacheMounter"/> alone and behind the facade: it serves warmed images and lets others fall back.</summary>
[Collection(SnapshotCollection.Name)]
public sealed class SnapshotCacheMounterTests(SnapshotFixture fixture) : IDisposable
{
    private readonly RegistryClient _client = new(new RegistryOptions { PlainHttp = true });
    private readonly string _work = fixture.NewDirectory("mounter");

    public void Dispose()
    {
        _client.Dispose();
        Directory.Delete(_work, recursive: true);
    }

    private string NewMountPoint() => Directory.CreateDirectory(Path.Combine(_work, "mnt-" + Guid.NewGuid().ToString("N")[..8])).FullName;

    private ImageAcceleratorHost Build(string root)
    {
        var builder = new ImageAcceleratorBuilder();
        builder.Services.AddSingleton(new ImageStoreResolver(_client));
        return builder
            .UseSnapshotCache(o => o.Root = root)
            .UseFullPull()
            .PreferStrategies(Strategy.Cache, Strategy.Full)
            .Build();
    }

    [Fact]
    public async Task CanMountAsync_EmptyStore_FalseWithReason()
    {
        var options = new SnapshotStoreOptions { Root = Path.Combine(_work, "cache") };
        var mounter = new SnapshotCacheMounter(new ImageStoreResolver(_client), SnapshotStore.Open(options), options);

        var (canMount, reason) = await mounter.CanMountAsync(fixture.ConformanceReference);

        Assert.False(canMount);
        Assert.Contains("no snapshot", reason);
    }

    [Fact]
    public async Task MountAsync_Facade_FallsBackUntilWarmedThenServesFromCache()
    {
        var (image, _) = await fixture.SampleAsync("small", new SampleImageOptions { LayerCount = 2, TotalSize = 2L << 20, Seed = 3 });
        await using var accelerator = Build(Path.Combine(_work, "cache"));

        Strategy before;
        IReadOnlyList<(Strategy, string)> fallbacks;
        await using (var full = await accelerator.MountAsync(image, NewMountPoint()))
        {
            before = full.Statistics.Strategy;
            fallbacks = [.. full.Statistics.Fallbacks];
        }

        var store = accelerator.Services.GetRequiredService<SnapshotStore>();
        await store.WarmAsync(_client.GetStore(image.Registry), image);
        await using var cached = await accelerator.MountAsync(image, NewMountPoint());

        Assert.Equal(Strategy.Full, before);
        Assert.Contains(fallbacks, f => f.Item1 == Strategy.Cache && f.Item2.Contains("no snapshot", StringComparison.Ordinal));
        Assert.Equal(Strategy.Cache, cached.Statistics.Strategy);
        Assert.Empty(cached.Statistics.Fallbacks);
    }

    [Fact]
    public void UseSnapshotCache_InvalidOptions_BuildThrows()
    {
        var builder = new ImageAcceleratorBuilder();
        builder.Services.AddSingleton(new ImageStoreResolver(_client));
        builder.UseSnapshotCache(o => o.CapacityBytes = -1);

        Assert.Throws<Microsoft.Extensions.Options.OptionsValidationException>(() => builder.Build());
    }
}

using Accelerator.Snapshots;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Accelerator;

/// <summary>Adds the snapshot-cache strategy to an accelerator.</summary>
public static class SnapshotCacheBuilderExtensions
{
    /// <summary>The snapshot cache's place in the default order: first, a ready snapshot is the fastest start (see <see cref="StrategyRegistration"/>).</summary>
    public const int Order = 100;

    /// <summary>
    /// Adds the snapshot cache as <see cref="Strategy.Cache"/>: images warmed into <see cref="SnapshotStoreOptions.Root"/>
    /// (<c>accel cache warm</c>, or
    /// <see cref="SnapshotStore.WarmAsync(Oci.Model.IImageStore, ImageReference, Platform?, CancellationToken)"/> on the
    /// registered <see cref="SnapshotStore"/>) are mounted as copy-on-write clones; others fall through to the next
    /// strategy.
    /// </summary>
    public static ImageAcceleratorBuilder UseSnapshotCache(this ImageAcceleratorBuilder builder, Action<SnapshotStoreOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.TryAddSingleton(services => SnapshotStore.Open(
            services.GetRequiredService<IOptions<SnapshotStoreOptions>>().Value,
            services.GetService<ILogger<SnapshotStore>>(),
            services.GetService<TimeProvider>()));
        return builder.AddStrategy<SnapshotCacheMounter, SnapshotStoreOptions>(Strategy.Cache, Order, configure, new SnapshotStoreOptionsValidator(), "snapshot cache");
    }
}

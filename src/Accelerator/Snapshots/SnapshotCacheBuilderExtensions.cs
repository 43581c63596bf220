using Accelerator.Hosting;
using Accelerator.Oci;
using Accelerator.Snapshots;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Accelerator;

/// <summary>Adds the snapshot-cache strategy to an accelerator.</summary>
public static class SnapshotCacheBuilderExtensions
{
    /// <summary>
    /// Adds the snapshot cache: images warmed into <see cref="SnapshotStoreOptions.Root"/> (<c>accel cache warm</c>, or
    /// <see cref="SnapshotStore.WarmAsync(Oci.Model.IImageStore, ImageReference, Platform?, CancellationToken)"/> on the
    /// registered <see cref="SnapshotStore"/>) are mounted as copy-on-write clones; others fall through to the next
    /// strategy.
    /// </summary>
    public static ImageAcceleratorBuilder UseSnapshotCache(this ImageAcceleratorBuilder builder, Action<SnapshotStoreOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.AddRegistries();
        builder.Services.AddStrategyOptions(configure, new SnapshotStoreOptionsValidator(), "snapshot cache");

        builder.Services.TryAddSingleton(services => SnapshotStore.Open(
            services.GetRequiredService<IOptions<SnapshotStoreOptions>>().Value,
            services.GetService<ILogger<SnapshotStore>>(),
            services.GetService<TimeProvider>()));
        builder.Services.TryAddEnumerable(ServiceDescriptor.Singleton<IImageMounter, SnapshotCacheMounter>(services => new SnapshotCacheMounter(
            services.GetRequiredService<ImageStoreResolver>(),
            services.GetRequiredService<SnapshotStore>(),
            services.GetRequiredService<IOptions<SnapshotStoreOptions>>().Value,
            services.GetService<ILogger<SnapshotCacheMounter>>())));
        return builder;
    }
}

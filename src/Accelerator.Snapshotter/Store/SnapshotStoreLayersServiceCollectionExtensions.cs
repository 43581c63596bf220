using Accelerator.Snapshots;
using Accelerator.Snapshotter.Layers;
using Accelerator.Snapshotter.Store;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Adds the snapshot store as a layer provider of the containerd snapshotter.</summary>
public static class SnapshotStoreLayersServiceCollectionExtensions
{
    /// <summary>
    /// Shares the snapshot cache's chain-id layers with containerd (provider <c>store</c>, asked first): layers in the
    /// store are answered without a download, and layers containerd unpacks move into the store when committed. The
    /// <see cref="SnapshotStore"/> is the one registered singleton, so the facade's cache strategy
    /// (<c>UseSnapshotCache</c>) in the same process uses the same store. <c>accel snapshotter</c> puts it at
    /// <c>ROOT/cache</c>, on the file system of the snapshotter's own directories (adoption is a rename).
    /// </summary>
    /// <param name="services">The services.</param>
    /// <param name="configure">Sets the store's options (at least <see cref="SnapshotStoreOptions.Root"/>).</param>
    public static IServiceCollection AddSnapshotStoreLayers(this IServiceCollection services, Action<SnapshotStoreOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configure);
        services.AddOptions<SnapshotStoreOptions>().Configure(configure).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<SnapshotStoreOptions>, SnapshotStoreOptionsValidator>());
        services.TryAddSingleton(provider => SnapshotStore.Open(
            provider.GetRequiredService<IOptions<SnapshotStoreOptions>>().Value,
            provider.GetService<ILogger<SnapshotStore>>(),
            provider.GetService<TimeProvider>()));
        services.TryAddEnumerable(ServiceDescriptor.Singleton<ILayerProvider, StoreLayerProvider>());
        return services;
    }
}

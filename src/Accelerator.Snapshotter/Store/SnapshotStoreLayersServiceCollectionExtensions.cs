using Accelerator.Snapshots;
using Accelerator.Snapshotter.Hosting;
using Accelerator.Snapshotter.Layers;
using Accelerator.Snapshotter.Store;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Adds the snapshot store as a layer provider of the containerd snapshotter.</summary>
public static class SnapshotStoreLayersServiceCollectionExtensions
{
    /// <summary>The store's directory under the snapshotter's root: <c>ROOT/cache</c>.</summary>
    public const string CacheDirectory = "cache";

    /// <summary>The configuration section of <c>accel snapshotter --config</c> the store's options are bound from.</summary>
    public const string SectionName = "cache";

    /// <summary>
    /// Shares the snapshot cache's chain-id layers with containerd (provider <c>store</c>, asked first), with the store
    /// at <c>ROOT/cache</c> (<see cref="SnapshotterOptions.Root"/>; on the file system of the snapshotter's own
    /// directories, since adoption is a rename) and its other options (capacity, time-to-live…) bound from
    /// <paramref name="section"/> (the <c>[cache]</c> section: <c>capacity_bytes</c> is <c>CapacityBytes</c>, etc.; a
    /// <c>root</c> there is ignored; <c>top_up_on_mount</c> is false unless set there). See <see cref="AddSnapshotStoreLayers(IServiceCollection, Action{SnapshotStoreOptions})"/>.
    /// </summary>
    /// <param name="services">The services.</param>
    /// <param name="section">The store's configuration section, or null for the defaults.</param>
    public static IServiceCollection AddSnapshotStoreLayers(this IServiceCollection services, IConfiguration? section = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        var options = services.AddOptions<SnapshotStoreOptions>().Configure(NoTopUp);
        if (section is not null)
        {
            options.Bind(section);
        }

        options.Configure<IOptions<SnapshotterOptions>>((store, snapshotter) => store.Root = Path.Combine(snapshotter.Value.Root, CacheDirectory));
        return AddProvider(services);
    }

    /// <summary>
    /// Shares the snapshot cache's chain-id layers with containerd (provider <c>store</c>, asked first): layers in the
    /// store are answered without a download, and layers containerd unpacks move into the store when committed. The
    /// <see cref="SnapshotStore"/> is the one registered singleton, so the facade's cache strategy
    /// (<c>UseSnapshotCache</c>) in the same process uses the same store.
    /// </summary>
    /// <param name="services">The services.</param>
    /// <param name="configure">Sets the store's options (at least <see cref="SnapshotStoreOptions.Root"/>, on the snapshotter's file system).</param>
    public static IServiceCollection AddSnapshotStoreLayers(this IServiceCollection services, Action<SnapshotStoreOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configure);
        services.AddOptions<SnapshotStoreOptions>().Configure(NoTopUp).Configure(configure);
        return AddProvider(services);
    }

    // In the node daemon the snapshot cache serves exact (pre-warmed) images only; unless configured otherwise, it does
    // not top up an image that merely shares layers with the store by downloading the rest in full (accel cache mount's
    // default): every layer containerd unpacks lands in the store, so nearly any image would share a base with it, and
    // the top-up would replace its lazy or block start with a full download.
    private static void NoTopUp(SnapshotStoreOptions options) => options.TopUpOnMount = false;

    private static IServiceCollection AddProvider(IServiceCollection services)
    {
        services.AddOptions<SnapshotStoreOptions>().ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<SnapshotStoreOptions>, SnapshotStoreOptionsValidator>());
        services.TryAddSingleton(provider => SnapshotStore.Open(
            provider.GetRequiredService<IOptions<SnapshotStoreOptions>>().Value,
            provider.GetService<ILogger<SnapshotStore>>(),
            provider.GetService<TimeProvider>()));
        services.TryAddSingleton<StoreServedImages>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<ILayerProvider, StoreLayerProvider>());
        return services;
    }
}

using Accelerator;
using Accelerator.Snapshotter.Hosting;
using Accelerator.Snapshotter.Layers;
using Accelerator.Snapshotter.Remote;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Adds remote snapshots (<see cref="RemoteLayerProvider"/>) to the node daemon.</summary>
public static class RemoteSnapshotsServiceCollectionExtensions
{
    /// <summary>
    /// Adds the <c>remote</c> layer provider and the facade it mounts images with, composed by
    /// <paramref name="accelerator"/> over these services (so the registry client is the one built from this
    /// container's <c>RegistryOptions</c>, which other parts may configure too). Add the cache, lazy and block strategies
    /// there — not the full pull: containerd downloads what no accelerated strategy serves. <see cref="RemoteSnapshotOptions.Directory"/>
    /// defaults to <c>ROOT/remote</c> (<see cref="SnapshotterOptions.Root"/>). Maps <c>GET /v1/images</c> and <c>GET /metrics</c>
    /// on the daemon's socket.
    /// </summary>
    public static IServiceCollection AddRemoteSnapshots(
        this IServiceCollection services, Action<RemoteSnapshotOptions> configure, Action<ImageAcceleratorBuilder> accelerator)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configure);
        ArgumentNullException.ThrowIfNull(accelerator);
        services.AddImageAccelerator(builder =>
        {
            builder.AddRegistries();
            accelerator(builder);
        });
        services.AddOptions<RemoteSnapshotOptions>().Configure(configure).ValidateOnStart()
            // Unless configured, next to the snapshotter's own state: ROOT/remote.
            .PostConfigure<IOptions<SnapshotterOptions>>((o, snapshotter) =>
            {
                if (string.IsNullOrEmpty(o.Directory))
                {
                    o.Directory = Path.Combine(snapshotter.Value.Root, "remote");
                }
            });
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<RemoteSnapshotOptions>, RemoteSnapshotOptionsValidator>());
        services.TryAddSingleton(sp => new RemoteSnapshotMetrics(sp.GetService<System.Diagnostics.Metrics.IMeterFactory>()));
        services.TryAddSingleton<RemoteLayerProvider>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<ILayerProvider, RemoteLayerProvider>(sp => sp.GetRequiredService<RemoteLayerProvider>()));
        services.TryAddEnumerable(ServiceDescriptor.Singleton<ISnapshotterEndpoints, RemoteImagesEndpoints>());
        return services;
    }
}

using Accelerator.Snapshotter.Hosting;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>The node daemon in a generic host; <c>accel snapshotter</c> runs exactly this.</summary>
public static class SnapshotterServiceCollectionExtensions
{
    /// <summary>
    /// Adds the snapshotter daemon (<see cref="SnapshotterHostedService"/>) with its options (<paramref name="configure"/>
    /// runs after any configuration bound earlier, e.g. from the <c>[snapshotter]</c> section; validated when the host
    /// starts), its health checks and, ahead of it, the stale-state sweep of its root (<see cref="SnapshotterStaleState"/>). Layer providers are added with <c>services.AddSingleton&lt;ILayerProvider, …&gt;()</c>,
    /// more endpoints with <c>services.AddSingleton&lt;ISnapshotterEndpoints, …&gt;()</c>.
    /// </summary>
    public static IServiceCollection AddAccelSnapshotter(this IServiceCollection services, Action<SnapshotterOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        var options = services.AddOptions<SnapshotterOptions>().ValidateOnStart();
        if (configure is not null)
        {
            options.Configure(configure);
        }

        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<SnapshotterOptions>, SnapshotterOptionsValidator>());

        // Before the daemon: what a killed predecessor left under the root is cleaned up first (hosted services start in order).
        services.AddHostedService<SnapshotterStaleState>();
        return services.AddHostedDaemon<SnapshotterHostedService>(SnapshotterHostedService.HealthName, daemon => new SnapshotterHostedService.HealthCheck(daemon));
    }
}

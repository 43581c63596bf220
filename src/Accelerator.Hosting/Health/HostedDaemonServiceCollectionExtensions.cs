using Accelerator.Hosting.Health;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>The registration every daemon's <c>services.AddX(...)</c> ends with: its hosted service and its health checks.</summary>
public static class HostedDaemonServiceCollectionExtensions
{
    /// <summary>
    /// Registers <typeparamref name="TDaemon"/> once, as a singleton (so callers can resolve it to reach the running daemon)
    /// and as a hosted service, and its health checks tagged with <paramref name="name"/>: <paramref name="liveness"/>
    /// (named <paramref name="name"/><c>-live</c>) and <paramref name="readiness"/> (<paramref name="name"/><c>-ready</c>);
    /// without <paramref name="readiness"/>, the liveness check (named <paramref name="name"/>) answers both.
    /// The daemon serves them by passing <c>new HealthEndpoints(health, name)</c> to its listener.
    /// </summary>
    public static IServiceCollection AddHostedDaemon<TDaemon>(
        this IServiceCollection services, string name, Func<TDaemon, IHealthCheck> liveness, Func<TDaemon, IHealthCheck>? readiness = null)
        where TDaemon : class, IHostedService
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentNullException.ThrowIfNull(liveness);
        if (services.Any(s => s.ServiceType == typeof(TDaemon)))
        {
            return services;
        }

        services.TryAddSingleton<TDaemon>();
        services.AddHostedService(sp => sp.GetRequiredService<TDaemon>());
        var checks = services.AddHealthChecks();
        if (readiness is null)
        {
            checks.Add(new(name, sp => liveness(sp.GetRequiredService<TDaemon>()), failureStatus: null, HealthEndpoints.LivenessAndReadinessTags(name)));
        }
        else
        {
            checks.Add(new(name + "-live", sp => liveness(sp.GetRequiredService<TDaemon>()), failureStatus: null, HealthEndpoints.LivenessTags(name)));
            checks.Add(new(name + "-ready", sp => readiness(sp.GetRequiredService<TDaemon>()), failureStatus: null, HealthEndpoints.ReadinessTags(name)));
        }

        return services;
    }
}

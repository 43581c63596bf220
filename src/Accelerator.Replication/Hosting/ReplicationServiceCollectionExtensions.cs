using Accelerator.Replication;
using Accelerator.Replication.Hosting;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>
/// The replication daemon as a hosted service in a generic host (<c>Host.CreateApplicationBuilder()</c>), with health
/// checks on its own listener (<c>/healthz</c> liveness, <c>/readyz</c> readiness). <c>accel replicate serve</c> runs
/// exactly this.
/// </summary>
public static class ReplicationServiceCollectionExtensions
{
    /// <summary>
    /// Adds the replication service (<see cref="ReplicationHostedService"/>): the listener and queue configured by
    /// <paramref name="configure"/>, the targets and filter by <paramref name="replication"/>, both validated when the host starts
    /// (<see cref="ReplicationServiceOptionsValidator"/>, <see cref="ReplicationOptionsValidator"/>);
    /// and its health checks (live while its workers run, ready while its queue has room). Registry access uses the
    /// host's <c>RegistryClient</c> if it has one, else one built from <c>IOptions&lt;RegistryOptions&gt;</c>.
    /// </summary>
    public static IServiceCollection AddReplicationService(this IServiceCollection services, Action<ReplicationServiceOptions> configure, Action<ReplicationOptions> replication)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configure);
        ArgumentNullException.ThrowIfNull(replication);
        services.AddOptions<ReplicationServiceOptions>().Configure(configure).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<ReplicationServiceOptions>, ReplicationServiceOptionsValidator>());
        services.AddOptions<ReplicationOptions>().Configure(replication).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<ReplicationOptions>, ReplicationOptionsValidator>());
        return AddReplicationServiceCore(services);
    }

    /// <summary>
    /// Adds the replication service with <paramref name="options"/> and <paramref name="replication"/> as they are (validated
    /// when it starts); see <see cref="AddReplicationService(IServiceCollection, Action{ReplicationServiceOptions}, Action{ReplicationOptions})"/>.
    /// </summary>
    public static IServiceCollection AddReplicationService(this IServiceCollection services, ReplicationServiceOptions options, ReplicationOptions replication)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(replication);
        services.AddSingleton(Options.Options.Create(options));
        services.AddSingleton(Options.Options.Create(replication));
        return AddReplicationServiceCore(services);
    }

    private static IServiceCollection AddReplicationServiceCore(IServiceCollection services)
        => services.AddHostedDaemon<ReplicationHostedService>(
            ReplicationHostedService.HealthName, daemon => new ReplicationHostedService.LivenessCheck(daemon), daemon => new ReplicationHostedService.ReadinessCheck(daemon));
}

using Accelerator.P2P.Hosting;
using Accelerator.P2P.Peers;
using Accelerator.P2P.Proxy;
using Accelerator.P2P.Scheduling;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>
/// The P2P daemons as hosted services in a generic host (<c>Host.CreateApplicationBuilder()</c>), each with health checks
/// served on its own listener (<c>/healthz</c> liveness, <c>/readyz</c> readiness). <c>accel p2p scheduler</c> and
/// <c>accel p2p peer</c> run exactly these.
/// </summary>
public static class P2PHostingServiceCollectionExtensions
{
    /// <summary>
    /// Adds the P2P scheduler (<see cref="P2PSchedulerHostedService"/>), its options configured by
    /// <paramref name="configure"/> and validated when the host starts (<see cref="P2PSchedulerServerOptionsValidator"/>), and
    /// its health check (live and ready while it listens).
    /// </summary>
    public static IServiceCollection AddP2PScheduler(this IServiceCollection services, Action<P2PSchedulerServerOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configure);
        services.AddOptions<P2PSchedulerServerOptions>().Configure(configure).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<P2PSchedulerServerOptions>, P2PSchedulerServerOptionsValidator>());
        return AddP2PSchedulerCore(services);
    }

    /// <summary>Adds the P2P scheduler with <paramref name="options"/> as they are (validated when it starts); see <see cref="AddP2PScheduler(IServiceCollection, Action{P2PSchedulerServerOptions})"/>.</summary>
    public static IServiceCollection AddP2PScheduler(this IServiceCollection services, P2PSchedulerServerOptions options)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(options);
        services.AddSingleton(Options.Options.Create(options));
        return AddP2PSchedulerCore(services);
    }

    private static IServiceCollection AddP2PSchedulerCore(IServiceCollection services)
        => services.AddHostedDaemon<P2PSchedulerHostedService>(P2PSchedulerHostedService.HealthName, daemon => new P2PSchedulerHostedService.HealthCheck(daemon));

    /// <summary>
    /// Adds a P2P peer (<see cref="P2PPeerHostedService"/>), its options configured by <paramref name="configure"/> and
    /// validated when the host starts (<see cref="P2PPeerOptionsValidator"/>), and its health checks: live while it listens, ready once a scheduler answered it.
    /// </summary>
    public static IServiceCollection AddP2PPeer(this IServiceCollection services, Action<P2PPeerOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configure);
        services.AddOptions<P2PPeerOptions>().Configure(configure).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<P2PPeerOptions>, P2PPeerOptionsValidator>());
        return AddP2PPeerCore(services);
    }

    /// <summary>Adds a P2P peer with <paramref name="options"/> as they are (validated when it starts); see <see cref="AddP2PPeer(IServiceCollection, Action{P2PPeerOptions})"/>.</summary>
    public static IServiceCollection AddP2PPeer(this IServiceCollection services, P2PPeerOptions options)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(options);
        services.AddSingleton(Options.Options.Create(options));
        return AddP2PPeerCore(services);
    }

    private static IServiceCollection AddP2PPeerCore(IServiceCollection services)
        => services.AddHostedDaemon<P2PPeerHostedService>(
            P2PPeerHostedService.HealthName, daemon => new P2PPeerHostedService.LivenessCheck(daemon), daemon => new P2PPeerHostedService.ReadinessCheck(daemon));

    /// <summary>
    /// Adds a registry-mirror proxy (<see cref="RegistryMirrorProxyHostedService"/>) whose blobs come through the peer of
    /// <c>AddP2PPeer</c> (add that first), its options configured by <paramref name="configure"/> and validated when
    /// the host starts (<see cref="RegistryMirrorProxyOptionsValidator"/>), and its health check.
    /// </summary>
    public static IServiceCollection AddRegistryMirrorProxy(this IServiceCollection services, Action<RegistryMirrorProxyOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configure);
        services.AddOptions<RegistryMirrorProxyOptions>().Configure(configure).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<RegistryMirrorProxyOptions>, RegistryMirrorProxyOptionsValidator>());
        return AddRegistryMirrorProxyCore(services);
    }

    /// <summary>Adds a registry-mirror proxy with <paramref name="options"/> as they are (validated when it starts); see <see cref="AddRegistryMirrorProxy(IServiceCollection, Action{RegistryMirrorProxyOptions})"/>.</summary>
    public static IServiceCollection AddRegistryMirrorProxy(this IServiceCollection services, RegistryMirrorProxyOptions options)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(options);
        services.AddSingleton(Options.Options.Create(options));
        return AddRegistryMirrorProxyCore(services);
    }

    private static IServiceCollection AddRegistryMirrorProxyCore(IServiceCollection services)
        => services.AddHostedDaemon<RegistryMirrorProxyHostedService>(RegistryMirrorProxyHostedService.HealthName, daemon => new RegistryMirrorProxyHostedService.HealthCheck(daemon));
}

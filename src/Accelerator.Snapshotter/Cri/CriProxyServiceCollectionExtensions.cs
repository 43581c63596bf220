using Accelerator.Oci.Registry;
using Accelerator.Snapshotter.Cri;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>The CRI image-service proxy of the node daemon (<c>accel snapshotter --cri-proxy</c>).</summary>
public static class CriProxyServiceCollectionExtensions
{
    /// <summary>
    /// Adds the CRI image-service proxy (<see cref="CriImageProxyHostedService"/>) with its options configured by
    /// <paramref name="configure"/> and validated at start (<see cref="CriProxyOptionsValidator"/>), its health check,
    /// and the <see cref="CriCredentialStore"/> of the credentials pulls carried — registered as the
    /// <see cref="IRegistryCredentialSource"/> and set as <see cref="RegistryOptions.CredentialSource"/> of the host's
    /// registry options (unless one is set already), so that the daemon's lazy reads use them.
    /// </summary>
    public static IServiceCollection AddCriImageProxy(this IServiceCollection services, Action<CriProxyOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configure);
        services.AddOptions<CriProxyOptions>().Configure(configure).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<CriProxyOptions>, CriProxyOptionsValidator>());
        services.TryAddSingleton<CriCredentialStore>();
        services.TryAddSingleton<IRegistryCredentialSource>(sp => sp.GetRequiredService<CriCredentialStore>());
        services.AddOptions<RegistryOptions>().PostConfigure<IRegistryCredentialSource>((registry, source) => registry.CredentialSource ??= source);
        return services.AddHostedDaemon<CriImageProxyHostedService>(CriImageProxyHostedService.HealthName, proxy => new CriImageProxyHostedService.HealthCheck(proxy));
    }
}

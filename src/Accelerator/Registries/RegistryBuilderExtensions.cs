using Accelerator.Oci;
using Accelerator.Oci.Registry;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Accelerator;

/// <summary>Configures how the accelerator talks to registries.</summary>
public static class RegistryBuilderExtensions
{
    /// <summary>Configures a registry host (<c>host[:port]</c>, as in image references): plain HTTP, credentials, TLS.</summary>
    public static ImageAcceleratorBuilder AddRegistry(this ImageAcceleratorBuilder builder, string host, Action<RegistryHostOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentException.ThrowIfNullOrEmpty(host);
        builder.AddRegistries();
        builder.Services.Configure<RegistryOptions>(o =>
        {
            if (!o.Hosts.TryGetValue(host, out var hostOptions))
            {
                hostOptions = new RegistryHostOptions();
                o.Hosts[host] = hostOptions;
            }

            configure?.Invoke(hostOptions);
        });
        return builder;
    }

    /// <summary>Configures the registry client (retries, timeouts, limits, plain HTTP for every host).</summary>
    public static ImageAcceleratorBuilder ConfigureRegistries(this ImageAcceleratorBuilder builder, Action<RegistryOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.AddRegistries();
        builder.Services.Configure(configure);
        return builder;
    }

    /// <summary>
    /// Configures the registry client from <paramref name="configuration"/> (for example
    /// <c>builder.Configuration.GetSection("Registries")</c>): every <see cref="RegistryOptions"/> property by name, and
    /// hosts as an array of <c>{ "Host": "localhost:5000", "PlainHttp": true, ... }</c> entries, since a
    /// <c>host:port</c> cannot be a configuration key (see <see cref="RegistryOptions.Bind(IConfiguration)"/>).
    /// Applied in order with <see cref="AddRegistry"/> and the other overload; validated when the host starts.
    /// </summary>
    public static ImageAcceleratorBuilder ConfigureRegistries(this ImageAcceleratorBuilder builder, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(configuration);
        builder.AddRegistries();
        builder.Services.Configure<RegistryOptions>(o => o.Bind(configuration));
        return builder;
    }

    /// <summary>
    /// Registers the registry client (its options validated at start) and the <see cref="ImageStoreResolver"/> that
    /// strategies read images through; idempotent. Provider packages call it from their <c>UseX</c> extensions.
    /// </summary>
    public static ImageAcceleratorBuilder AddRegistries(this ImageAcceleratorBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var services = builder.Services;
        services.AddOptions<RegistryOptions>().ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<RegistryOptions>, RegistryOptionsValidator>());
        services.TryAddSingleton(sp => new RegistryClient(
            sp.GetRequiredService<IOptions<RegistryOptions>>().Value,
            handler: null,
            sp.GetService<ILogger<RegistryClient>>(),
            sp.GetService<TimeProvider>()));
        services.TryAddSingleton<ImageStoreResolver>();
        return builder;
    }
}

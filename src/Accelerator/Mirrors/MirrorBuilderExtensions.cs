using System.Diagnostics.Metrics;
using Accelerator.Mirrors;
using Accelerator.Oci.Mirrors;
using Accelerator.Oci.Registry;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Accelerator;

/// <summary>Adds registry mirror sets to an accelerator: every strategy that reads a registry then reads through them.</summary>
public static class MirrorBuilderExtensions
{
    /// <summary>
    /// Reads registries through their mirror sets (see <see cref="MirrorOptions"/>): load balancing, failover to the
    /// origin, health tracking, and the "replicated everywhere" check. Options are validated, and the hosts directory is
    /// read, when the accelerator is built.
    /// </summary>
    public static ImageAcceleratorBuilder UseMirrors(this ImageAcceleratorBuilder builder, Action<MirrorOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.AddRegistries();
        var services = builder.Services;
        var options = services.AddOptions<MirrorOptions>().ValidateOnStart();
        if (configure is not null)
        {
            options.Configure(configure);
        }

        if (services.Any(d => d.ServiceType == typeof(MirroredRegistries)))
        {
            return builder;
        }

        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<MirrorOptions>, MirrorConfigurationValidator>());
        services.TryAddSingleton(sp => MirrorConfiguration.Load(sp.GetRequiredService<IOptions<MirrorOptions>>().Value));
        // Mirror URLs imply per-host settings (plain HTTP, TLS, API path, headers) that the registry client must know.
        services.AddOptions<RegistryOptions>().PostConfigure<MirrorConfiguration>((registries, mirrors) => mirrors.ApplyTo(registries));
        services.TryAddSingleton(sp => new MirroredRegistries(
            sp.GetRequiredService<MirrorConfiguration>(),
            sp.GetRequiredService<RegistryClient>(),
            sp.GetService<ILoggerFactory>(),
            sp.GetService<TimeProvider>(),
            sp.GetService<IMeterFactory>()));
        return builder;
    }

    /// <summary>
    /// Adds a mirror of <paramref name="registry"/> (<c>host[:port]</c> as in image references, or <c>_default</c>):
    /// <paramref name="url"/> is <c>https://host[:port][/path]</c>, or <c>http://</c> for plain HTTP to that host only.
    /// Mirrors are tried in the order added; by default a mirror only serves content by digest (tags are resolved at the
    /// origin) — grant <see cref="MirrorCapabilities.Resolve"/> in <paramref name="configure"/> to a mirror you trust.
    /// Its credentials, if any, go under its own host in <see cref="RegistryBuilderExtensions.AddRegistry"/>.
    /// </summary>
    public static ImageAcceleratorBuilder AddMirror(this ImageAcceleratorBuilder builder, string registry, string url, Action<MirrorEndpoint>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentException.ThrowIfNullOrEmpty(registry);
        ArgumentException.ThrowIfNullOrEmpty(url);
        try
        {
            MirrorEndpoint.Parse(url);
        }
        catch (FormatException ex)
        {
            throw new ArgumentException($"Mirror of {registry}: {ex.Message}", nameof(url), ex);
        }

        builder.UseMirrors();
        builder.Services.Configure<MirrorOptions>(o =>
        {
            if (!o.Registries.TryGetValue(registry, out var mirrors))
            {
                mirrors = new RegistryMirrors();
                o.Registries[registry] = mirrors;
            }

            var endpoint = MirrorEndpoint.Parse(url);
            configure?.Invoke(endpoint);
            mirrors.Mirrors.Add(endpoint);
        });
        return builder;
    }

    /// <summary>Reads mirror sets from a containerd hosts directory (<c>DIR/HOST/hosts.toml</c>), e.g. <c>/etc/containerd/certs.d</c>.</summary>
    public static ImageAcceleratorBuilder UseHostsDirectory(this ImageAcceleratorBuilder builder, string directory)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentException.ThrowIfNullOrEmpty(directory);
        return builder.UseMirrors(o => o.HostsDirectory = directory);
    }
}

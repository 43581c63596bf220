using Accelerator.Oci;
using Accelerator.Oci.Registry;
using Accelerator.P2P;
using Accelerator.P2P.Proxy;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Accelerator;

/// <summary>Adds P2P distribution to an accelerator.</summary>
public static class P2PBuilderExtensions
{
    /// <summary>
    /// Reads registry blobs through P2P (see <see cref="P2POptions"/>): full pulls, lazy and block mounts fetch blobs and
    /// chunks from the local peer — the node's daemon through its proxy, or a peer in this process — which shares them
    /// with other peers so the registry serves each blob about once; when the peer cannot answer, reads fall back to the
    /// mirrors and the origin. Manifests still resolve at the registry.
    /// Options are validated when the accelerator is built.
    /// </summary>
    public static ImageAcceleratorBuilder UseP2P(this ImageAcceleratorBuilder builder, Action<P2POptions> configure)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(configure);
        builder.AddRegistries();
        var services = builder.Services;
        services.AddOptions<P2POptions>().Configure(configure).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<P2POptions>, P2POptionsValidator>());
        services.TryAddSingleton<IRegistryBlobSourceDecorator>(sp =>
        {
            var options = sp.GetRequiredService<IOptions<P2POptions>>().Value;
            return options.Proxy is { } proxy
                ? new PeerProxyBlobSourceDecorator(proxy, options.ConnectTimeout)
                : new InProcessPeerDecorator(options, sp.GetRequiredService<RegistryClient>(), sp.GetService<ILoggerFactory>(), sp.GetService<TimeProvider>());
        });
        return builder;
    }

    /// <summary>Reads registry blobs through the local peer's registry-mirror proxy at <paramref name="proxy"/>.</summary>
    public static ImageAcceleratorBuilder UseP2P(this ImageAcceleratorBuilder builder, Uri proxy)
    {
        ArgumentNullException.ThrowIfNull(proxy);
        return builder.UseP2P(o => o.Proxy = proxy);
    }
}

using System.CommandLine;
using Accelerator.Snapshotter.Cri;
using Accelerator.Snapshotter.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Accelerator.Cli.Commands;

/// <summary>
/// The CRI image-service proxy of <c>accel snapshotter</c>: <c>--cri-proxy SOCK</c> (or <c>[cri_proxy] address</c>)
/// turns it on, forwarding to <c>--cri-endpoint</c> (or <c>[cri_proxy] endpoint</c>, default containerd's socket);
/// the credentials pulls carry are kept under <c>ROOT/cri</c> unless <c>[cri_proxy] state_directory</c> says otherwise.
/// </summary>
internal sealed class SnapshotterCriProxy
{
    /// <summary>The configuration file's section.</summary>
    public const string SectionName = "cri_proxy";

    public Option<string?> Address { get; } = new("--cri-proxy")
    {
        Description = "Also serve CRI's image service on this unix socket (kubelet --image-service-endpoint), forwarding to containerd and keeping each pull's credentials for lazy reads. Default: off, or [cri_proxy] address.",
        HelpName = "SOCK",
    };

    public Option<string?> Endpoint { get; } = new("--cri-endpoint")
    {
        Description = "containerd's socket the CRI proxy forwards to. Default: /run/containerd/containerd.sock, or [cri_proxy] endpoint.",
        HelpName = "SOCK",
    };

    /// <summary>Adds the proxy when a socket is named by a flag or the file; flags win.</summary>
    public void Add(IServiceCollection services, ParseResult result, IConfiguration settings)
    {
        var section = settings.GetSection(SectionName);
        string? address = result.GetValue(Address) ?? section["address"];
        if (string.IsNullOrEmpty(address))
        {
            return;
        }

        string? endpoint = result.GetValue(Endpoint);
        services.AddCriImageProxy(options =>
        {
            section.Bind(options);
            options.Address = address;
            options.Endpoint = endpoint ?? options.Endpoint;
        });
        services.AddOptions<CriProxyOptions>().PostConfigure<IOptions<SnapshotterOptions>>((options, snapshotter) =>
        {
            if (section[nameof(CriProxyOptions.StateDirectory)] is null && section["state_directory"] is null)
            {
                options.StateDirectory = Path.Combine(snapshotter.Value.Root, "cri");
            }
        });
    }
}

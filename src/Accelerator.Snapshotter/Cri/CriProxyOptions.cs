using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;

namespace Accelerator.Snapshotter.Cri;

/// <summary>
/// The CRI image-service proxy (<c>accel snapshotter --cri-proxy SOCK --cri-endpoint CONTAINERD_SOCK</c>, config file
/// section <c>[cri_proxy]</c>): where kubelet reaches it, where containerd's CRI plugin is, and where the credentials
/// captured from pulls are kept. Checked by <see cref="CriProxyOptionsValidator"/>.
/// </summary>
public sealed class CriProxyOptions
{
    /// <summary>The unix socket the proxy serves <c>runtime.v1.ImageService</c> on (kubelet's <c>--image-service-endpoint</c>); created 0600 in a 0700 directory.</summary>
    /// <value>Default <c>/run/accel/cri.sock</c>.</value>
    [Required]
    [MaxLength(107)]
    public string Address { get; set; } = "/run/accel/cri.sock";

    /// <summary>containerd's socket, whose CRI plugin every call is forwarded to.</summary>
    /// <value>Default <c>/run/containerd/containerd.sock</c>.</value>
    [Required]
    [MaxLength(107)]
    public string Endpoint { get; set; } = "/run/containerd/containerd.sock";

    /// <summary>
    /// The directory the captured credentials are kept in (<c>credentials.json</c>, 0600, in a 0700 directory), so
    /// they survive a restart; normally <c>ROOT/cri</c>.
    /// </summary>
    /// <value>Default <c>/var/lib/accel/cri</c>.</value>
    [Required]
    public string StateDirectory { get; set; } = "/var/lib/accel/cri";

    /// <summary>The most (registry, repository) credentials kept; the least recently given are dropped beyond it.</summary>
    /// <value>Default 1024.</value>
    [Range(1, 100_000)]
    public int MaxCredentials { get; set; } = 1024;
}

/// <summary>Validates <see cref="CriProxyOptions"/> from its data annotations (generated).</summary>
[OptionsValidator]
public sealed partial class CriProxyOptionsValidator : IValidateOptions<CriProxyOptions>;

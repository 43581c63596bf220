namespace Accelerator.Testing.Processes;

/// <summary>
/// The CRI plugin of a test's containerd (<c>[plugins."io.containerd.grpc.v1.cri"]</c>), set up for host-network pods
/// on one machine: no CNI plugin, the stream server on 127.0.0.1, images from local plain-HTTP registries through a
/// hosts directory, runc's state in the process's own directory.
/// </summary>
public sealed class ContainerdCriOptions
{
    /// <summary>The pod sandbox ("pause") image, e.g. from <see cref="Images.SandboxImage"/>; required.</summary>
    public required string SandboxImage { get; init; }

    /// <summary>The snapshotter CRI unpacks images with and runs containers on. <value>Default: overlayfs.</value></summary>
    public string Snapshotter { get; init; } = "overlayfs";

    /// <summary>
    /// Registries (<c>host:port</c>) reached over plain HTTP: each gets <c>certs.d/HOST/hosts.toml</c> in the
    /// registry <c>config_path</c>.
    /// </summary>
    public IList<string> PlainHttpRegistries { get; } = [];
}

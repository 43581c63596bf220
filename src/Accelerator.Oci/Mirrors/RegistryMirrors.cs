namespace Accelerator.Oci.Mirrors;

/// <summary>
/// The mirror set of one registry (one <c>hosts.toml</c> of containerd's hosts directory): mirrors tried before the
/// origin, in order, and optionally the origin's own endpoint.
/// </summary>
public sealed class RegistryMirrors
{
    /// <summary>The mirrors, in configured order (the order matters for tag resolution and the ordered policy).</summary>
    public IList<MirrorEndpoint> Mirrors { get; } = new List<MirrorEndpoint>();

    /// <summary>
    /// The origin (containerd's <c>server</c>), tried after the mirrors. With a server whose URL is a mirror, the registry
    /// itself is never contacted.
    /// </summary>
    /// <value>Default <see langword="null"/>: the registry itself, with every capability.</value>
    public MirrorEndpoint? Server { get; set; }

    /// <summary>Where this configuration was read from (a hosts.toml path), for messages; null when built in code.</summary>
    public string? Source { get; init; }
}

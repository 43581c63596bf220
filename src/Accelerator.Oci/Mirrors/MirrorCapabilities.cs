namespace Accelerator.Oci.Mirrors;

/// <summary>
/// What a host may be asked to do (containerd's <c>capabilities</c> in <c>hosts.toml</c>). Resolving a tag to a digest
/// is a matter of trust, so only hosts with <see cref="Resolve"/> are asked; content by digest verifies itself, so any
/// host with <see cref="Pull"/> may serve it.
/// </summary>
[Flags]
public enum MirrorCapabilities
{
    /// <summary>Nothing.</summary>
    None = 0,

    /// <summary>Serve blobs and manifests by digest.</summary>
    Pull = 1,

    /// <summary>Resolve tags to manifests (a trusted operation).</summary>
    Resolve = 2,

    /// <summary>Accept pushes.</summary>
    Push = 4,

    /// <summary>Pull, resolve and push: containerd's default when a host names no capabilities.</summary>
    All = Pull | Resolve | Push,
}

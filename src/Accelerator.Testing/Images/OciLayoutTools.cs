namespace Accelerator.Testing.Images;

/// <summary>How <see cref="OciLayoutTools.PushAsync"/> writes the manifest in the registry.</summary>
public enum PushManifestFormat
{
    /// <summary>OCI image manifest (<c>skopeo --format oci</c>).</summary>
    Oci,

    /// <summary>Docker image manifest v2 schema 2 (<c>skopeo --format v2s2</c>).</summary>
    DockerV2Schema2,
}

/// <summary>
/// The reference tools applied to an OCI image layout on disk: skopeo to push and inspect, umoci to unpack. Tests use
/// them as the independent judge of what our code reads and writes.
/// </summary>
public static class OciLayoutTools
{
    /// <summary>
    /// Copies <c>oci:LAYOUT:TAG</c> to <c>docker://HOST/REPOSITORY:TAG</c> with skopeo, over plain HTTP or TLS without
    /// verification.
    /// </summary>
    /// <param name="layoutPath">The OCI layout directory.</param>
    /// <param name="tag">The tag in the layout; also the tag pushed.</param>
    /// <param name="registryHost">The registry, <c>host:port</c>.</param>
    /// <param name="repository">The repository in the registry.</param>
    /// <param name="format">The manifest format written to the registry.</param>
    /// <param name="cancellationToken">Cancels the copy.</param>
    public static Task PushAsync(string layoutPath, string tag, string registryHost, string repository,
        PushManifestFormat format = PushManifestFormat.Oci, CancellationToken cancellationToken = default)
        => ExternalTool.RunAsync("skopeo",
        [
            "copy", "--quiet", "--dest-tls-verify=false",
            "--format", format == PushManifestFormat.Oci ? "oci" : "v2s2",
            $"oci:{layoutPath}:{tag}", $"docker://{registryHost}/{repository}:{tag}",
        ], cancellationToken: cancellationToken);

    /// <summary>
    /// Unpacks <c>LAYOUT:TAG</c> with <c>umoci unpack</c> into the bundle directory <paramref name="bundlePath"/> (which
    /// must not exist yet) and returns the path of its <c>rootfs</c>. Needs root for devices and ownership.
    /// </summary>
    public static async Task<string> UnpackWithUmociAsync(string layoutPath, string tag, string bundlePath, CancellationToken cancellationToken = default)
    {
        await ExternalTool.RunAsync("umoci", ["unpack", "--image", $"{layoutPath}:{tag}", bundlePath], cancellationToken: cancellationToken).ConfigureAwait(false);
        return Path.Combine(bundlePath, "rootfs");
    }

    /// <summary>Returns the JSON that <c>skopeo inspect oci:LAYOUT:TAG</c> prints (which validates the layout).</summary>
    public static Task<string> InspectAsync(string layoutPath, string tag, CancellationToken cancellationToken = default)
        => ExternalTool.RunAsync("skopeo", ["inspect", $"oci:{layoutPath}:{tag}"], cancellationToken: cancellationToken);
}

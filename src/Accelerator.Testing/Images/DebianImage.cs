namespace Accelerator.Testing.Images;

/// <summary>
/// One image of <see cref="DebianImageCorpus"/>: an OCI image layout built from real Debian packages, with a command
/// a container started on the image runs and what that command must print.
/// </summary>
public sealed class DebianImage
{
    internal DebianImage(string name, string layoutPath, int layerCount, IReadOnlyList<string> command, IReadOnlyList<string> expectedOutput)
    {
        Name = name;
        LayoutPath = layoutPath;
        LayerCount = layerCount;
        Command = command;
        ExpectedOutput = expectedOutput;
    }

    /// <summary>The image's name in the corpus (<see cref="DebianImageCorpus.Names"/>); also its tag in the layout.</summary>
    public string Name { get; }

    /// <summary>The OCI image layout directory (in the corpus cache: read it, never change it).</summary>
    public string LayoutPath { get; }

    /// <summary>The image's tag in the layout.</summary>
    public string Tag => Name;

    /// <summary>The image as an <c>oci:DIR:TAG</c> reference (skopeo and <c>accel</c> syntax).</summary>
    public string OciReference => $"oci:{LayoutPath}:{Tag}";

    /// <summary>How many layers the image has.</summary>
    public int LayerCount { get; }

    /// <summary>A real program of the image and its arguments (for <c>ctr run --rootfs</c>); it exits 0 on success.</summary>
    public IReadOnlyList<string> Command { get; }

    /// <summary>Text the command's standard output must contain (each item).</summary>
    public IReadOnlyList<string> ExpectedOutput { get; }

    /// <summary>Pushes the image with skopeo to <c>HOST/REPOSITORY:TAG</c> (see <see cref="OciLayoutTools.PushAsync"/>).</summary>
    public Task PushAsync(string registryHost, string repository, PushManifestFormat format = PushManifestFormat.Oci, CancellationToken cancellationToken = default)
        => OciLayoutTools.PushAsync(LayoutPath, Tag, registryHost, repository, format, cancellationToken);

    /// <summary>
    /// Unpacks the image with <c>umoci unpack</c> into the bundle directory <paramref name="bundlePath"/> (which must not
    /// exist) and returns its root file system path.
    /// </summary>
    public Task<string> UnpackWithUmociAsync(string bundlePath, CancellationToken cancellationToken = default)
        => OciLayoutTools.UnpackWithUmociAsync(LayoutPath, Tag, bundlePath, cancellationToken);

    /// <inheritdoc />
    public override string ToString() => Name;
}

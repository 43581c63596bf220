using Accelerator.Oci.Model;

namespace Accelerator.Oci.Resolution;

/// <summary>An image resolved for one platform: the document the reference named, the platform manifest and its config.</summary>
/// <param name="Image">The reference that was resolved.</param>
/// <param name="Root">The document the reference names: an index, or the manifest itself.</param>
/// <param name="Manifest">The image manifest for the selected platform.</param>
/// <param name="Config">The parsed image config.</param>
/// <param name="ConfigBytes">The config's raw bytes, verified against <c>Manifest.Config.Digest</c>.</param>
public sealed record ResolvedImage(ImageReference Image, ManifestDocument Root, ManifestDocument Manifest, ImageConfig Config, ReadOnlyMemory<byte> ConfigBytes)
{
    /// <summary>The image manifest.</summary>
    public ImageManifest ImageManifest => Manifest.Manifest!;

    /// <summary>The layers, lowest first.</summary>
    public IReadOnlyList<Descriptor> Layers => ImageManifest.Layers;
}

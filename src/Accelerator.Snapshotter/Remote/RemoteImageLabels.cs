using System.Diagnostics.CodeAnalysis;

namespace Accelerator.Snapshotter.Remote;

/// <summary>
/// The snapshot labels containerd passes on Prepare that name the image a layer belongs to. containerd 1.6's CRI plugin
/// sets them (pkg/snapshotters/annotations.go, <c>AppendInfoHandlerWrapper</c>, unless
/// <c>disable_snapshot_annotations</c>) on every layer descriptor of an image manifest; the unpacker passes a layer's
/// <c>containerd.io/snapshot/</c> annotations on as labels (<c>snapshots.FilterInheritedLabels</c>) and adds the chain ID.
/// </summary>
public static class RemoteImageLabels
{
    /// <summary>The chain ID of the layer being unpacked (set by containerd's unpacker).</summary>
    public const string SnapshotRef = "containerd.io/snapshot.ref";

    /// <summary>The image reference as the CRI plugin normalized it (<c>docker.io/library/nginx:latest</c>).</summary>
    public const string ImageRef = "containerd.io/snapshot/cri.image-ref";

    /// <summary>The digest of the image manifest (the platform's manifest, not the index).</summary>
    public const string ManifestDigest = "containerd.io/snapshot/cri.manifest-digest";

    /// <summary>The digest of this layer's blob.</summary>
    public const string LayerDigest = "containerd.io/snapshot/cri.layer-digest";

    /// <summary>This layer's digest and the ones above it, comma-separated, cut short to fit containerd's 4096-byte label limit.</summary>
    public const string ImageLayers = "containerd.io/snapshot/cri.image-layers";

    /// <summary>
    /// Reads the image a Prepare's labels name: the reference and manifest digest (both required; the layer digests
    /// are informative only, the chain IDs are checked against the image's config instead).
    /// </summary>
    /// <returns>False with the reason when the labels name no image or name it badly.</returns>
    public static bool TryRead(
        IReadOnlyDictionary<string, string> labels,
        [NotNullWhen(true)] out ImageReference? image,
        out Digest manifest,
        [NotNullWhen(false)] out string? reason)
    {
        ArgumentNullException.ThrowIfNull(labels);
        image = null;
        manifest = default;
        if (!labels.TryGetValue(ImageRef, out string? reference) || !labels.TryGetValue(ManifestDigest, out string? digest))
        {
            reason = $"no CRI labels ({ImageRef}, {ManifestDigest}): containerd pulled without them (e.g. ctr pull), so the image is unknown";
            return false;
        }

        if (!ImageReference.TryParse(reference, out image, out string? error) || image.Kind != ImageReferenceKind.Registry)
        {
            image = null;
            reason = $"label {ImageRef} is not a registry image reference ({error ?? "an image layout"})";
            return false;
        }

        if (!Digest.TryParse(digest, out manifest))
        {
            image = null;
            reason = $"label {ManifestDigest} is not a digest";
            return false;
        }

        reason = null;
        return true;
    }
}

using Accelerator.Oci.Model;
using Accelerator.Oci.Resolution;

namespace Accelerator.Chunks.Images;

/// <summary>
/// An accelerated image loaded from a registry or image layout (a lazy image, a block image): where it lives, its
/// resolved manifest and config, and the source image it was converted from. Subclasses add the format's index.
/// </summary>
public abstract class AcceleratedImage
{
    /// <summary>Wraps the image <paramref name="image"/> read from <paramref name="store"/>.</summary>
    protected AcceleratedImage(IImageStore store, ResolvedImage image)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(image);
        Store = store;
        Image = image;
        SourceDigest = image.ImageManifest.Annotations?.GetValueOrDefault(AcceleratedVariant.SourceDigestAnnotation) is { } text
            && Digest.TryParse(text, out Digest parsed) ? parsed : null;
    }

    /// <summary>The store the image lives in.</summary>
    public IImageStore Store { get; }

    /// <summary>The reference the image was loaded by.</summary>
    public ImageReference Reference => Image.Image;

    /// <summary>The resolved manifest and config.</summary>
    public ResolvedImage Image { get; }

    /// <summary>The digest of the source image manifest, from <see cref="AcceleratedVariant.SourceDigestAnnotation"/>; null when absent.</summary>
    public Digest? SourceDigest { get; }
}

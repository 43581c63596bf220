using Accelerator.Oci;
using Accelerator.Oci.Model;
using Accelerator.Oci.Resolution;

namespace Accelerator.Chunks.Images;

/// <summary>
/// Finds the accelerated image of one format that a mounter serves for an image reference: the reference itself when
/// it already is one, else the variant beside its tag, bound to the manifest the tag names now through the source-digest
/// annotation (<see cref="AcceleratedVariant"/>'s rule); and resolves accelerated manifests, whose config keeps the
/// source image's diff_ids while their layers are the format's index and data blobs.
/// </summary>
public sealed class AcceleratedImageResolver
{
    /// <summary>Creates a resolver of <paramref name="format"/> images read through <paramref name="stores"/>.</summary>
    public AcceleratedImageResolver(ImageStoreResolver stores, AcceleratedImageFormat format)
    {
        ArgumentNullException.ThrowIfNull(stores);
        ArgumentNullException.ThrowIfNull(format);
        Stores = stores;
        Format = format;
    }

    /// <summary>Where images are read from.</summary>
    public ImageStoreResolver Stores { get; }

    /// <summary>The format resolved.</summary>
    public AcceleratedImageFormat Format { get; }

    /// <summary>
    /// The accelerated image to mount for <paramref name="image"/>: the reference itself when it is of
    /// <see cref="Format"/>, else <c>TAG</c> + <see cref="AcceleratedImageFormat.TagSuffix"/> in the same repository or
    /// layout when that is one and was converted from the manifest <paramref name="image"/> names now; or null and why not.
    /// </summary>
    public Task<(ImageReference? Variant, string? Reason)> FindVariantAsync(ImageReference image, Platform? platform, CancellationToken cancellationToken = default)
        => AcceleratedVariant.FindAsync(Stores, image, platform, Format.TagSuffix, Format.VariantOf, Format.IsManifest, Format.Kind, cancellationToken);

    /// <summary>
    /// Resolves <paramref name="image"/> in <paramref name="store"/> to a manifest (selecting <paramref name="platform"/>,
    /// default this machine's, from an index) and its config. Like <see cref="ImageResolver"/>, without its check that
    /// the config lists one diff_id per layer: an accelerated image keeps the source config (entrypoint, environment)
    /// while its layers are the index and data blobs.
    /// </summary>
    /// <exception cref="PlatformNotFoundException">The index has no manifest for the platform.</exception>
    /// <exception cref="InvalidDataException">The index entry is not an image manifest, or the config is invalid.</exception>
    public static async Task<ResolvedImage> ResolveAsync(IImageStore store, ImageReference image, Platform? platform, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(image);
        ManifestDocument root = await store.GetManifestAsync(image, cancellationToken).ConfigureAwait(false);
        ManifestDocument document = root;
        if (root.Index is { } index)
        {
            platform ??= Platform.Current;
            Descriptor selected = index.SelectPlatform(platform)
                ?? throw new PlatformNotFoundException(image, platform, index.Manifests.Where(m => m.Platform is not null).Select(m => m.Platform!));
            document = await store.GetManifestAsync(image, selected.Digest, cancellationToken).ConfigureAwait(false);
            if (document.Manifest is null)
            {
                throw new InvalidDataException($"{image}: the index entry for {platform} is not an image manifest.");
            }
        }

        Descriptor config = document.Manifest!.Config;
        byte[] configBytes = await store.Blobs.ReadAllBytesAsync(BlobAddress.For(image.Repository, config), ImageResolver.MaxConfigSize, cancellationToken).ConfigureAwait(false);
        return new ResolvedImage(image, root, document, OciJson.Deserialize<ImageConfig>(configBytes, "image config"), configBytes);
    }
}

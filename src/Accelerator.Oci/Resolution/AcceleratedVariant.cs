using Accelerator.Oci.Model;

namespace Accelerator.Oci.Resolution;

/// <summary>
/// Finds the accelerated variant of an image that a mounter serves: the reference itself when it already is one, else
/// the variant tag beside it (<c>TAG-accel</c>, <c>TAG-accel-block</c>) in the same repository or layout.
/// </summary>
public static class AcceleratedVariant
{
    /// <summary>
    /// The variant to mount for <paramref name="image"/>, or null and why not (one line naming what each candidate
    /// is instead).
    /// </summary>
    /// <param name="stores">Where images are read from.</param>
    /// <param name="image">The image asked for.</param>
    /// <param name="platform">The platform to select from an index (default: this machine's).</param>
    /// <param name="tagSuffix">The variant's tag suffix; a tag already ending with it has no further variant.</param>
    /// <param name="variantOf">The variant reference of a tagged source (the converter's default target).</param>
    /// <param name="isVariant">Whether a manifest is of the variant's format.</param>
    /// <param name="kind">The format's name in reasons, e.g. "lazy image".</param>
    /// <param name="cancellationToken">Cancels the lookups.</param>
    public static async Task<(ImageReference? Variant, string? Reason)> FindAsync(
        ImageStoreResolver stores, ImageReference image, Platform? platform, string tagSuffix,
        Func<ImageReference, ImageReference> variantOf, Func<ImageManifest, bool> isVariant, string kind,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(stores);
        ArgumentNullException.ThrowIfNull(image);
        IImageStore store;
        try
        {
            store = stores.GetStore(image);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or InvalidDataException)
        {
            return (null, $"cannot open {image}: {ex.Message}");
        }

        string? first = await ProblemAsync(store, image, platform, isVariant, kind, cancellationToken).ConfigureAwait(false);
        if (first is null)
        {
            return (image, null);
        }

        if (image.Tag is null || image.Digest is not null || image.Tag.EndsWith(tagSuffix, StringComparison.Ordinal))
        {
            return (null, first);
        }

        ImageReference variant = variantOf(image);
        string? second = await ProblemAsync(store, variant, platform, isVariant, kind, cancellationToken).ConfigureAwait(false);
        return second is null ? (variant, null) : (null, $"{first}; {second}");
    }

    // Null when image is of the variant's format; else what it is instead.
    private static async Task<string?> ProblemAsync(
        IImageStore store, ImageReference image, Platform? platform, Func<ImageManifest, bool> isVariant, string kind, CancellationToken cancellationToken)
    {
        try
        {
            ManifestDocument document = await store.GetManifestAsync(image, cancellationToken).ConfigureAwait(false);
            if (document.Index is { } index)
            {
                platform ??= Platform.Current;
                Descriptor? selected = index.SelectPlatform(platform);
                if (selected is null)
                {
                    return $"{image} has no manifest for {platform}";
                }

                document = await store.GetManifestAsync(image, selected.Digest, cancellationToken).ConfigureAwait(false);
            }

            return document.Manifest is { } manifest && isVariant(manifest) ? null : $"{image} is not a {kind}";
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw;
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            return $"{image} is not available ({ex.Message})";
        }
    }
}

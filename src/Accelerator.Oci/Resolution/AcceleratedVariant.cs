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

        var (first, requested, requestedError) = await ProblemAsync(store, image, platform, isVariant, kind, cancellationToken).ConfigureAwait(false);
        if (first is null)
        {
            return (image, null);
        }

        if (image.Tag is null || image.Digest is not null || image.Tag.EndsWith(tagSuffix, StringComparison.Ordinal))
        {
            return (null, first);
        }

        ImageReference variant = variantOf(image);
        var (second, converted, _) = await ProblemAsync(store, variant, platform, isVariant, kind, cancellationToken).ConfigureAwait(false);
        if (second is not null)
        {
            return (null, $"{first}; {second}");
        }

        // A variant found beside the tag must be the conversion of the manifest the tag names now: a stale conversion
        // (the tag moved on), or one pushed beside another image's tag, would serve another image's files under this
        // name. The converters record the source manifest in SourceDigestAnnotation.
        if (requested is null)
        {
            // The tag names nothing there (a store holding only the converted image): the variant is all the name can
            // mean, and no other image is being replaced. Any other failure to read the tag leaves nothing to bind to.
            return requestedError is null or BlobNotFoundException
                ? (variant, null)
                : (null, $"cannot check that {variant} is the conversion of {image}: {requestedError.Message}");
        }

        string? source = converted!.Manifest?.Annotations?.GetValueOrDefault(SourceDigestAnnotation);
        return source == requested.Digest.ToString()
            ? (variant, null)
            : (null, $"{variant} was converted from {source ?? "an image it does not name"}, not from {image} ({requested.Digest}); convert the image again");
    }

    /// <summary>The annotation in which a converted image names the manifest it was converted from.</summary>
    public const string SourceDigestAnnotation = "dev.accelerator.source.digest";

    // Problem: null when image is of the variant's format, else what it is instead. Selected: the platform's manifest
    // when one was read. Error: why the manifest could not be read.
    private static async Task<(string? Problem, ManifestDocument? Selected, Exception? Error)> ProblemAsync(
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
                    return ($"{image} has no manifest for {platform}", null, null);
                }

                document = await store.GetManifestAsync(image, selected.Digest, cancellationToken).ConfigureAwait(false);
            }

            return (document.Manifest is { } manifest && isVariant(manifest) ? null : $"{image} is not a {kind}", document, null);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw;
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            return ($"{image} is not available ({ex.Message})", null, ex);
        }
    }
}

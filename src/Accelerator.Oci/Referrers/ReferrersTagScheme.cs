using Accelerator.Oci.Model;

namespace Accelerator.Oci.Referrers;

/// <summary>
/// The referrers tag scheme (OCI distribution-spec 1.1, "Referrers Tag Schema"), for registries without the referrers
/// API: the referrers of a manifest are listed by an image index tagged <c>&lt;alg&gt;-&lt;ref&gt;</c> (the digest with
/// its colon replaced by a dash, truncated to 128 characters), kept up to date by whoever pushes a referrer.
/// </summary>
public static class ReferrersTagScheme
{
    /// <summary>The tag that lists the referrers of <paramref name="subject"/>: <c>sha256-&lt;hex&gt;</c>.</summary>
    public static string TagFor(Digest subject)
    {
        string tag = subject.Algorithm + "-" + subject.Encoded;
        return tag.Length > 128 ? tag[..128] : tag;
    }

    /// <summary>
    /// The referrers the tag of <paramref name="subject"/> lists in the repository of <paramref name="image"/> (filtered by
    /// <paramref name="artifactType"/>), or an empty list when there is no such tag.
    /// </summary>
    /// <exception cref="InvalidDataException">The tag names something that is not a bounded referrers index.</exception>
    public static async Task<IReadOnlyList<Descriptor>> ReadAsync(IImageStore store, ImageReference image, Digest subject, string? artifactType, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(store);
        var document = await TryReadAsync(store, image, subject, cancellationToken).ConfigureAwait(false);
        return document is null ? [] : ReferrersIndex.Parse(document.Bytes.Span, artifactType);
    }

    /// <summary>
    /// Adds <paramref name="referrer"/> to the tag of <paramref name="subject"/> (read, add when its digest is absent,
    /// write back under the tag). Returns whether the list changed. Two writers at the same moment can lose one entry:
    /// the scheme has no compare-and-swap (the spec says so); pushing again restores it.
    /// </summary>
    public static async Task<bool> AddAsync(IImageStore store, ImageReference image, Digest subject, Descriptor referrer, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(referrer);
        var document = await TryReadAsync(store, image, subject, cancellationToken).ConfigureAwait(false);
        var listed = document is null ? [] : ReferrersIndex.Parse(document.Bytes.Span);
        if (listed.Any(d => d.Digest == referrer.Digest))
        {
            return false;
        }

        if (listed.Count >= ReferrersIndex.MaxReferrers)
        {
            throw new InvalidDataException($"The referrers tag {TagFor(subject)} of {image.Repository} already lists {listed.Count} referrers, the limit.");
        }

        var updated = ReferrersIndex.Build(listed.Append(referrer));
        await store.PushManifestAsync(Tagged(image, subject), updated, TagFor(subject), cancellationToken).ConfigureAwait(false);
        return true;
    }

    private static async Task<ManifestDocument?> TryReadAsync(IImageStore store, ImageReference image, Digest subject, CancellationToken cancellationToken)
    {
        try
        {
            return await store.GetManifestAsync(Tagged(image, subject), cancellationToken).ConfigureAwait(false);
        }
        catch (BlobNotFoundException)
        {
            return null;
        }
        catch (Exception ex) when (ex is FormatException or NotSupportedException or ContentTooLargeException)
        {
            throw new InvalidDataException($"The referrers tag {TagFor(subject)} of {image.Repository} is not a referrers index: {ex.Message}", ex);
        }
    }

    private static ImageReference Tagged(ImageReference image, Digest subject) => image.WithTag(TagFor(subject));
}

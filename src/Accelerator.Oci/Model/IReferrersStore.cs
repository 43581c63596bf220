namespace Accelerator.Oci.Model;

/// <summary>
/// Optional capability of an <see cref="IImageStore"/> (found with <c>is</c>): the referrers of a manifest — the
/// manifests whose <c>subject</c> names it (OCI distribution-spec 1.1, "Listing Referrers"). A registry answers
/// <c>GET /v2/&lt;name&gt;/referrers/&lt;digest&gt;</c>; an OCI layout scans its <c>index.json</c>. Stores without the
/// API are served by the referrers tag scheme instead (<see cref="Referrers.ImageReferrers"/> chooses).
/// </summary>
public interface IReferrersStore
{
    /// <summary>
    /// The referrers of <paramref name="subject"/> in the repository of <paramref name="image"/>, filtered by
    /// <paramref name="artifactType"/> when given (the filter is applied here when the store did not apply it), or
    /// <see langword="null"/> when the store has no referrers API (a registry answering 404).
    /// </summary>
    /// <exception cref="InvalidDataException">The store's answer is malformed or over the bounds of <see cref="Referrers.ReferrersIndex"/>.</exception>
    Task<IReadOnlyList<Descriptor>?> GetReferrersAsync(ImageReference image, Digest subject, string? artifactType, CancellationToken cancellationToken = default);

    /// <summary>
    /// Stores <paramref name="referrer"/> (a manifest with a <c>subject</c>; its blobs already pushed) by digest and
    /// returns whether the store now lists it among the subject's referrers by itself: a registry says so with the
    /// <c>OCI-Subject</c> header of its answer; when it does not, the caller keeps the referrers tag up to date.
    /// </summary>
    Task<bool> PushReferrerAsync(ImageReference image, ManifestDocument referrer, CancellationToken cancellationToken = default);
}

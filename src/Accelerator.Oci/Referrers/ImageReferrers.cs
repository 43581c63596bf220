using Accelerator.Oci.Model;

namespace Accelerator.Oci.Referrers;

/// <summary>The referrers of a manifest and where the list came from.</summary>
/// <param name="Referrers">The referrers' descriptors (artifact type and annotations as listed).</param>
/// <param name="Source">How they were listed: <c>referrers API</c> or <c>referrers tag sha256-…</c>.</param>
public sealed record ReferrerListing(IReadOnlyList<Descriptor> Referrers, string Source);

/// <summary>
/// Lists and publishes referrers on any <see cref="IImageStore"/>: through its referrers API when it has one
/// (<see cref="IReferrersStore"/>), else through the referrers tag scheme (<see cref="ReferrersTagScheme"/>), as
/// OCI distribution-spec 1.1 tells clients to. Only the image's own repository is asked.
/// </summary>
public static class ImageReferrers
{
    /// <summary>The source named when the referrers API answered.</summary>
    public const string ApiSource = "referrers API";

    /// <summary>
    /// The referrers of <paramref name="subject"/> (of <paramref name="artifactType"/> when given): the API's answer
    /// when the store has the API (404 means it has not), else the referrers tag's list.
    /// </summary>
    /// <exception cref="InvalidDataException">The answer or the tag's index is malformed or over the bounds.</exception>
    public static async Task<ReferrerListing> ListAsync(IImageStore store, ImageReference image, Digest subject, string? artifactType, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(image);
        if (store is IReferrersStore api
            && await api.GetReferrersAsync(image, subject, artifactType, cancellationToken).ConfigureAwait(false) is { } answered)
        {
            return new ReferrerListing(answered, ApiSource);
        }

        var tagged = await ReferrersTagScheme.ReadAsync(store, image, subject, artifactType, cancellationToken).ConfigureAwait(false);
        return new ReferrerListing(tagged, "referrers tag " + ReferrersTagScheme.TagFor(subject));
    }

    /// <summary>
    /// Publishes <paramref name="referrer"/> (an image manifest with a <c>subject</c>, its blobs already in the store):
    /// pushed by digest; when the store does not list it by itself (no <c>OCI-Subject</c> in the registry's answer), the
    /// subject's referrers tag gets its descriptor too (deduplicated by digest). Returns how it is listed.
    /// </summary>
    public static async Task<string> PushAsync(IImageStore store, ImageReference image, ManifestDocument referrer, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(image);
        ArgumentNullException.ThrowIfNull(referrer);
        var subject = referrer.Manifest?.Subject ?? throw new ArgumentException("A referrer is an image manifest with a subject.", nameof(referrer));
        bool listed;
        if (store is IReferrersStore api)
        {
            listed = await api.PushReferrerAsync(image, referrer, cancellationToken).ConfigureAwait(false);
        }
        else
        {
            await store.PushManifestAsync(image, referrer, null, cancellationToken).ConfigureAwait(false);
            listed = false;
        }

        if (listed)
        {
            return ApiSource;
        }

        await ReferrersTagScheme.AddAsync(store, image, subject.Digest, ReferrersIndex.DescribeReferrer(referrer), cancellationToken).ConfigureAwait(false);
        return "referrers tag " + ReferrersTagScheme.TagFor(subject.Digest);
    }
}

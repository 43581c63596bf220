using Accelerator.Oci.Model;
using Accelerator.Oci.Referrers;

namespace Accelerator.Seekable.Index;

/// <summary>
/// Finds the seekable index of an image manifest: its referrers of type <see cref="SeekableIndexArtifact.ArtifactType"/>,
/// through the referrers API when the store has it, else the referrers tag scheme (<see cref="ImageReferrers"/>), in
/// the image's own repository only. Each candidate must be a valid artifact whose <c>subject</c> is the manifest;
/// of those, the newest (<see cref="SeekableIndexArtifact.Created"/>) wins. Candidates that fail say why in the
/// description.
/// </summary>
public static class SeekableIndexFinder
{
    /// <summary>The most candidate artifacts read for one manifest: 16 (newest first by their listed creation time).</summary>
    public const int MaxCandidates = 16;

    /// <summary>
    /// The seekable index of <paramref name="manifest"/> (an image manifest of <paramref name="image"/>'s repository) and
    /// how it was found ("referrers API: sha256:…", "referrers tag sha256-…: sha256:…"), or null and why there is none.
    /// A malformed listing is a reason, not an error; failures to reach the store propagate.
    /// </summary>
    public static async Task<(SeekableIndexArtifact? Artifact, string Description)> FindAsync(
        IImageStore store, ImageReference image, Descriptor manifest, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(image);
        ArgumentNullException.ThrowIfNull(manifest);
        if (!MediaTypes.IsManifest(manifest.MediaType))
        {
            return (null, $"no seekable index: {manifest.Digest} is a '{manifest.MediaType}', indexes belong to image manifests");
        }

        ReferrerListing listing;
        try
        {
            listing = await ImageReferrers.ListAsync(store, image, manifest.Digest, SeekableIndexArtifact.ArtifactType, cancellationToken).ConfigureAwait(false);
        }
        catch (InvalidDataException ex)
        {
            return (null, $"no seekable index: the referrers of {manifest.Digest} could not be listed ({ex.Message})");
        }

        var candidates = listing.Referrers
            .Where(r => r.ArtifactType == SeekableIndexArtifact.ArtifactType)
            .DistinctBy(r => r.Digest)
            .OrderByDescending(r => r.Annotations?.GetValueOrDefault(SeekableIndexArtifact.CreatedAnnotation), StringComparer.Ordinal)
            .ThenBy(r => r.Digest)
            .Take(MaxCandidates)
            .ToList();
        if (candidates.Count == 0)
        {
            return (null, $"no seekable index ({listing.Source}: no referrer of type {SeekableIndexArtifact.ArtifactType})");
        }

        var ignored = new List<string>();
        SeekableIndexArtifact? newest = null;
        foreach (var candidate in candidates)
        {
            try
            {
                var document = await store.GetManifestAsync(image, candidate.Digest, cancellationToken).ConfigureAwait(false);
                var artifact = SeekableIndexArtifact.Parse(document, store.Blobs, image.Repository);
                if (artifact.Subject.Digest != manifest.Digest || artifact.Subject.Size != manifest.Size)
                {
                    ignored.Add($"{candidate.Digest} ignored: its subject is {artifact.Subject.Digest}, not {manifest.Digest}");
                    continue;
                }

                if (newest is null || (artifact.Created ?? DateTimeOffset.MinValue) > (newest.Created ?? DateTimeOffset.MinValue))
                {
                    newest = artifact;
                }
            }
            catch (Exception ex) when (ex is InvalidDataException or FormatException or NotSupportedException or DigestMismatchException
                or BlobNotFoundException or ContentTooLargeException)
            {
                ignored.Add($"{candidate.Digest} ignored: {ex.Message}");
            }
        }

        string notes = ignored.Count == 0 ? "" : "; " + string.Join("; ", ignored);
        return newest is null
            ? (null, $"no seekable index ({listing.Source}{notes})")
            : (newest, $"{listing.Source}: {newest.Digest}{notes}");
    }
}

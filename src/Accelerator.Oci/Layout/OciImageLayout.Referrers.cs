using Accelerator.Oci.Model;
using Accelerator.Oci.Referrers;

namespace Accelerator.Oci.Layout;

public sealed partial class OciImageLayout : IReferrersStore
{
    /// <inheritdoc />
    /// <remarks>
    /// A layout lists referrers in <c>index.json</c> as untagged entries carrying their <c>artifactType</c> (OCI
    /// image-layout.md allows untagged manifests there; skopeo and oras do the same): each such manifest whose
    /// <c>subject</c> is <paramref name="subject"/> is one referrer. At most <see cref="ReferrersIndex.MaxReferrers"/>
    /// entries are read.
    /// </remarks>
    public async Task<IReadOnlyList<Descriptor>?> GetReferrersAsync(ImageReference image, Digest subject, string? artifactType, CancellationToken cancellationToken = default)
    {
        EnsureThisLayout(image);
        var candidates = ReadIndex().Manifests
            .Where(m => m.ArtifactType is not null && TagOf(m) is null && MediaTypes.IsManifest(m.MediaType))
            .Where(m => artifactType is null || m.ArtifactType == artifactType)
            .DistinctBy(m => m.Digest)
            .ToList();
        if (candidates.Count > ReferrersIndex.MaxReferrers)
        {
            throw new InvalidDataException($"{DisplayName} lists {candidates.Count} referrers, over the limit of {ReferrersIndex.MaxReferrers}.");
        }

        var referrers = new List<Descriptor>();
        foreach (var candidate in candidates)
        {
            var document = await ReadManifestAsync(candidate, cancellationToken).ConfigureAwait(false);
            if (document.Manifest?.Subject?.Digest == subject)
            {
                referrers.Add(ReferrersIndex.DescribeReferrer(document));
            }
        }

        return referrers;
    }

    /// <inheritdoc />
    /// <remarks>Stores the manifest and lists it in <c>index.json</c> untagged, with its artifact type and annotations (once per digest). Always true.</remarks>
    public async Task<bool> PushReferrerAsync(ImageReference image, ManifestDocument referrer, CancellationToken cancellationToken = default)
    {
        EnsureThisLayout(image);
        ArgumentNullException.ThrowIfNull(referrer);
        if (referrer.Manifest?.Subject is null)
        {
            throw new ArgumentException("A referrer is an image manifest with a subject.", nameof(referrer));
        }

        await PushManifestAsync(referrer, null, cancellationToken).ConfigureAwait(false);
        var entry = ReferrersIndex.DescribeReferrer(referrer);
        await UpdateIndexAsync(manifests =>
        {
            if (manifests.Any(m => m.Digest == entry.Digest && TagOf(m) is null))
            {
                return false;
            }

            manifests.Add(entry);
            return true;
        }, cancellationToken).ConfigureAwait(false);
        return true;
    }
}

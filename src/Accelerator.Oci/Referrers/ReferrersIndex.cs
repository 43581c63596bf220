using Accelerator.Oci.Model;

namespace Accelerator.Oci.Referrers;

/// <summary>
/// The document that lists referrers: an OCI image index whose <c>manifests</c> are the referrers' descriptors (each with
/// its <c>artifactType</c> and annotations). A referrers API answers one; the referrers tag scheme stores one under the
/// tag <see cref="ReferrersTagScheme.TagFor"/>. Parsing is bounded and span-based: a hostile answer gets one
/// <see cref="InvalidDataException"/>.
/// </summary>
public static class ReferrersIndex
{
    /// <summary>The largest referrers answer accepted: 4 MiB, the manifest limit registries apply.</summary>
    public const int MaxBytes = ManifestDocument.MaxSize;

    /// <summary>The most referrers one subject may list: 10,000.</summary>
    public const int MaxReferrers = 10_000;

    /// <summary>
    /// Parses a referrers index. Descriptors that are not manifests or indexes are dropped (the spec lists manifests
    /// only); when <paramref name="artifactType"/> is given, only descriptors of that artifact type are kept.
    /// </summary>
    /// <exception cref="InvalidDataException">The body is too large, not JSON, not an index, or lists too many referrers.</exception>
    public static IReadOnlyList<Descriptor> Parse(ReadOnlySpan<byte> body, string? artifactType = null)
    {
        if (body.Length > MaxBytes)
        {
            throw new InvalidDataException($"The referrers answer is {body.Length} bytes, over the {MaxBytes}-byte limit.");
        }

        ImageIndex index;
        try
        {
            index = OciJson.Deserialize<ImageIndex>(body, "referrers index");
        }
        catch (Exception ex) when (ex is FormatException or System.Text.Json.JsonException or InvalidOperationException or NotSupportedException or ArgumentException)
        {
            throw new InvalidDataException($"The referrers answer is not an image index: {ex.Message}", ex);
        }

        if (index.Manifests is null || index.Manifests.Any(m => m is null))
        {
            throw new InvalidDataException("The referrers answer is not an image index: missing or null manifests.");
        }

        if (index.MediaType is not null && !MediaTypes.IsIndex(index.MediaType))
        {
            throw new InvalidDataException($"The referrers answer has media type '{Shorten(index.MediaType)}', not an image index.");
        }

        if (index.Manifests.Count > MaxReferrers)
        {
            throw new InvalidDataException($"The referrers answer lists {index.Manifests.Count} referrers, over the limit of {MaxReferrers}.");
        }

        return index.Manifests
            .Where(m => MediaTypes.IsManifest(m.MediaType) || MediaTypes.IsIndex(m.MediaType))
            .Where(m => artifactType is null || m.ArtifactType == artifactType)
            .ToList();
    }

    /// <summary>Builds the referrers index listing <paramref name="referrers"/> (OCI image index, no subject).</summary>
    public static ManifestDocument Build(IEnumerable<Descriptor> referrers)
    {
        ArgumentNullException.ThrowIfNull(referrers);
        return ManifestDocument.From(new ImageIndex { MediaType = MediaTypes.OciIndex, Manifests = [.. referrers] });
    }

    /// <summary>
    /// The descriptor a referrers list holds for <paramref name="referrer"/>: its media type, digest and size, its
    /// artifact type (the manifest's <c>artifactType</c>, else its config's media type) and its annotations.
    /// </summary>
    public static Descriptor DescribeReferrer(ManifestDocument referrer)
    {
        ArgumentNullException.ThrowIfNull(referrer);
        var manifest = referrer.Manifest ?? throw new ArgumentException("A referrer here is an image manifest.", nameof(referrer));
        return referrer.Descriptor with
        {
            ArtifactType = manifest.ArtifactType ?? manifest.Config.MediaType,
            Annotations = manifest.Annotations is { Count: > 0 } annotations ? annotations : null,
        };
    }

    private static string Shorten(string value) => value.Length > 80 ? value[..80] + "…" : value;
}

using System.Text.Json;

namespace Accelerator.Oci.Model;

/// <summary>
/// A manifest or index as fetched: its raw bytes (whose digest is the manifest digest), its media type and the
/// parsed document. Parsing is bounded: documents over <see cref="MaxSize"/> are refused.
/// </summary>
public sealed class ManifestDocument
{
    /// <summary>The largest manifest accepted, 4 MiB (the limit registries apply as well).</summary>
    public const int MaxSize = 4 * 1024 * 1024;

    private ManifestDocument(ReadOnlyMemory<byte> bytes, string mediaType, Digest digest, ImageManifest? manifest, ImageIndex? index)
    {
        Bytes = bytes;
        MediaType = mediaType;
        Digest = digest;
        Manifest = manifest;
        Index = index;
    }

    /// <summary>The raw bytes.</summary>
    public ReadOnlyMemory<byte> Bytes { get; }

    /// <summary>The media type.</summary>
    public string MediaType { get; }

    /// <summary>The digest of <see cref="Bytes"/>.</summary>
    public Digest Digest { get; }

    /// <summary>The manifest, when this is an image manifest.</summary>
    public ImageManifest? Manifest { get; }

    /// <summary>The index, when this is an index or manifest list.</summary>
    public ImageIndex? Index { get; }

    /// <summary>Whether this is an index.</summary>
    public bool IsIndex => Index is not null;

    /// <summary>A descriptor of this document.</summary>
    public Descriptor Descriptor => new(MediaType, Digest, Bytes.Length);

    /// <summary>
    /// Parses manifest bytes. The media type comes from <paramref name="mediaType"/> (a Content-Type header), else the
    /// document's own <c>mediaType</c>, else its shape. When <paramref name="expected"/> is given, the bytes must hash to
    /// it.
    /// </summary>
    public static ManifestDocument Parse(ReadOnlyMemory<byte> bytes, string? mediaType = null, Digest? expected = null)
    {
        if (bytes.Length > MaxSize)
        {
            throw new ContentTooLargeException($"Manifest is {bytes.Length} bytes, over the {MaxSize}-byte limit.");
        }

        var digest = expected is { } e ? Digest.Compute(e.Algorithm, bytes.Span) : Digest.Compute(bytes.Span);
        if (expected is { } want && digest != want)
        {
            throw new DigestMismatchException(want, digest.ToString(), "manifest");
        }

        string? declared;
        bool hasManifests;
        bool hasLayers;
        try
        {
            using var json = JsonDocument.Parse(bytes, new JsonDocumentOptions { MaxDepth = 64 });
            if (json.RootElement.ValueKind != JsonValueKind.Object)
            {
                throw new FormatException("Invalid manifest: not a JSON object.");
            }

            declared = json.RootElement.TryGetProperty("mediaType", out var mt) && mt.ValueKind == JsonValueKind.String ? mt.GetString() : null;
            hasManifests = json.RootElement.TryGetProperty("manifests", out _);
            hasLayers = json.RootElement.TryGetProperty("layers", out _);
            if (json.RootElement.TryGetProperty("schemaVersion", out var sv) && sv.ValueKind == JsonValueKind.Number && sv.GetInt32() == 1)
            {
                throw new NotSupportedException("Docker image manifest schema 1 is not supported; push the image with schema 2 or OCI.");
            }
        }
        catch (Exception ex) when (OciJson.IsInvalidJson(ex))
        {
            throw new FormatException($"Invalid manifest: {ex.Message}", ex);
        }

        string? headerType = mediaType is null ? null : mediaType.Split(';')[0].Trim();
        if (headerType is "application/json" or "text/plain" or "application/octet-stream" or "")
        {
            headerType = null;
        }

        string type = headerType ?? declared ?? (hasManifests ? MediaTypes.OciIndex : hasLayers ? MediaTypes.OciManifest : string.Empty);
        if (declared is not null && headerType is not null && declared != headerType)
        {
            throw new FormatException($"Invalid manifest: declares media type '{declared}' but was served as '{headerType}'.");
        }

        if (MediaTypes.IsIndex(type))
        {
            var index = OciJson.Deserialize<ImageIndex>(bytes.Span, "image index");
            if (index.Manifests is null || index.Manifests.Any(m => m is null))
            {
                throw new FormatException("Invalid image index: missing or null manifests.");
            }

            return new ManifestDocument(bytes, type, digest, null, index);
        }

        if (MediaTypes.IsManifest(type))
        {
            var manifest = OciJson.Deserialize<ImageManifest>(bytes.Span, "image manifest");
            if (manifest.Config is null || manifest.Layers is null || manifest.Layers.Any(l => l is null))
            {
                throw new FormatException("Invalid image manifest: needs config and layers (without null entries).");
            }

            return new ManifestDocument(bytes, type, digest, manifest, null);
        }

        throw new NotSupportedException($"Unsupported manifest media type '{type}'.");
    }

    /// <summary>Serializes a manifest into a document (OCI or Docker, per its media type).</summary>
    public static ManifestDocument From(ImageManifest manifest)
    {
        byte[] bytes = OciJson.Serialize(manifest);
        return new ManifestDocument(bytes, manifest.MediaType ?? MediaTypes.OciManifest, Digest.Compute(bytes), manifest, null);
    }

    /// <summary>Serializes an index into a document.</summary>
    public static ManifestDocument From(ImageIndex index)
    {
        byte[] bytes = OciJson.Serialize(index);
        return new ManifestDocument(bytes, index.MediaType ?? MediaTypes.OciIndex, Digest.Compute(bytes), null, index);
    }
}

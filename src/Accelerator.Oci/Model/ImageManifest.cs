using System.Text.Json.Serialization;

namespace Accelerator.Oci.Model;

/// <summary>An image manifest (OCI image-manifest.md; Docker v2 schema 2 has the same shape).</summary>
public sealed record ImageManifest
{
    /// <summary>Always 2.</summary>
    public int SchemaVersion { get; init; } = 2;

    /// <summary>The manifest media type (OCI or Docker).</summary>
    public string? MediaType { get; init; } = MediaTypes.OciManifest;

    /// <summary>The artifact type, for artifacts.</summary>
    public string? ArtifactType { get; init; }

    /// <summary>The image config.</summary>
    public required Descriptor Config { get; init; }

    /// <summary>The layers, lowest first.</summary>
    public required IReadOnlyList<Descriptor> Layers { get; init; }

    /// <summary>The manifest this one refers to (referrers API).</summary>
    public Descriptor? Subject { get; init; }

    /// <summary>Annotations.</summary>
    public IReadOnlyDictionary<string, string>? Annotations { get; init; }
}

/// <summary>An image index or Docker manifest list (OCI image-index.md).</summary>
public sealed record ImageIndex
{
    /// <summary>Always 2.</summary>
    public int SchemaVersion { get; init; } = 2;

    /// <summary>The index media type (OCI or Docker).</summary>
    public string? MediaType { get; init; } = MediaTypes.OciIndex;

    /// <summary>The artifact type, for artifacts.</summary>
    public string? ArtifactType { get; init; }

    /// <summary>The manifests, each usually with a platform.</summary>
    public required IReadOnlyList<Descriptor> Manifests { get; init; }

    /// <summary>The manifest this one refers to.</summary>
    public Descriptor? Subject { get; init; }

    /// <summary>Annotations.</summary>
    public IReadOnlyDictionary<string, string>? Annotations { get; init; }

    /// <summary>
    /// Picks the manifest for <paramref name="platform"/>: an exact variant match first, then one without variant.
    /// Returns null when none matches.
    /// </summary>
    public Descriptor? SelectPlatform(Platform platform)
    {
        Descriptor? fallback = null;
        var want = platform.Normalize();
        foreach (var manifest in Manifests)
        {
            if (manifest.Platform is null || !MediaTypes.IsManifest(manifest.MediaType) && !MediaTypes.IsIndex(manifest.MediaType))
            {
                continue;
            }

            if (!platform.Matches(manifest.Platform))
            {
                continue;
            }

            if (manifest.Platform.Normalize().Variant == want.Variant)
            {
                return manifest;
            }

            fallback ??= manifest;
        }

        return fallback;
    }
}

/// <summary>The image config (OCI config.md): what a runtime needs and the layers' uncompressed digests.</summary>
public sealed record ImageConfig
{
    /// <summary>Creation time (RFC 3339).</summary>
    public string? Created { get; init; }

    /// <summary>Author.</summary>
    public string? Author { get; init; }

    /// <summary>CPU architecture.</summary>
    public string? Architecture { get; init; }

    /// <summary>Operating system.</summary>
    public string? Os { get; init; }

    /// <summary>CPU variant.</summary>
    public string? Variant { get; init; }

    /// <summary>Execution parameters.</summary>
    public RuntimeConfig? Config { get; init; }

    /// <summary>The layers' uncompressed digests.</summary>
    public RootFs? Rootfs { get; init; }

    /// <summary>Layer history.</summary>
    public IReadOnlyList<HistoryEntry>? History { get; init; }
}

/// <summary>Execution parameters of an image config.</summary>
public sealed record RuntimeConfig
{
    /// <summary>The user.</summary>
    public string? User { get; init; }

    /// <summary>Environment, <c>NAME=value</c>.</summary>
    public IReadOnlyList<string>? Env { get; init; }

    /// <summary>The entrypoint.</summary>
    public IReadOnlyList<string>? Entrypoint { get; init; }

    /// <summary>Default arguments.</summary>
    public IReadOnlyList<string>? Cmd { get; init; }

    /// <summary>The working directory.</summary>
    public string? WorkingDir { get; init; }

    /// <summary>Labels.</summary>
    public IReadOnlyDictionary<string, string>? Labels { get; init; }

    /// <summary>The stop signal.</summary>
    public string? StopSignal { get; init; }

    /// <summary>Exposed ports (keys only).</summary>
    public IReadOnlyDictionary<string, object>? ExposedPorts { get; init; }

    /// <summary>Volumes (keys only).</summary>
    public IReadOnlyDictionary<string, object>? Volumes { get; init; }
}

/// <summary>The rootfs section of an image config.</summary>
public sealed record RootFs
{
    /// <summary>Always <c>layers</c>.</summary>
    public string Type { get; init; } = "layers";

    /// <summary>Digests of the uncompressed layers, lowest first.</summary>
    [JsonPropertyName("diff_ids")]
    public IReadOnlyList<Digest> DiffIds { get; init; } = [];
}

/// <summary>One history entry of an image config.</summary>
public sealed record HistoryEntry
{
    /// <summary>When.</summary>
    public string? Created { get; init; }

    /// <summary>The command that created the layer.</summary>
    [JsonPropertyName("created_by")]
    public string? CreatedBy { get; init; }

    /// <summary>A comment.</summary>
    public string? Comment { get; init; }

    /// <summary>Whether the entry created no layer.</summary>
    [JsonPropertyName("empty_layer")]
    public bool? EmptyLayer { get; init; }
}

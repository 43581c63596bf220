using System.Text.Json;
using System.Text.Json.Serialization;

namespace Accelerator.Snapshots.Storage;

/// <summary><c>layers/HEX/layer.json</c>: one published layer of a chain; written before the directory is published.</summary>
internal sealed record LayerRecord
{
    public int Version { get; init; } = 1;

    /// <summary><see cref="LayerKinds.Tree"/> (a directory <c>fs/</c>) or <see cref="LayerKinds.Block"/> (files <c>disk</c> and <c>index</c>).</summary>
    public string Kind { get; init; } = LayerKinds.Tree;

    /// <summary>The chain ID of a tree layer; the block index digest of a block layer.</summary>
    public required string ChainId { get; init; }

    public string? Parent { get; init; }

    /// <summary>
    /// The diff ID the layer's content was verified against when the store built it. Null only for a layer of
    /// <see cref="LayerOrigins.Adopted"/> origin, whose content the store did not unpack itself (see <see cref="Origin"/>).
    /// </summary>
    public string? DiffId { get; init; }

    /// <summary>
    /// Who made the tree: null (or <see cref="LayerOrigins.Built"/>) when the store built it from a verified blob; or
    /// <see cref="LayerOrigins.Adopted"/> when it was handed over as a finished tree under its chain ID by a trusted
    /// local holder (the snapshotter, after containerd unpacked and verified the layer).
    /// </summary>
    public string? Origin { get; init; }

    /// <summary>The compressed layer blob it came from; null when imported from an exported snapshot.</summary>
    public string? LayerDigest { get; init; }

    /// <summary>Disk bytes of the layer's tree.</summary>
    public long SizeBytes { get; init; }

    public DateTimeOffset Created { get; init; }
}

/// <summary><c>images/HEX.json</c>: a published image snapshot; written last, after all its layers.</summary>
internal sealed record ImageRecord
{
    public int Version { get; init; } = 1;

    public string Kind { get; init; } = SnapshotKinds.OverlayTree;

    public required string ManifestDigest { get; init; }

    public IReadOnlyList<string> References { get; init; } = [];

    public required IReadOnlyList<string> ChainIds { get; init; }

    public required IReadOnlyList<string> DiffIds { get; init; }

    /// <summary>For a block-stack snapshot: the block image it was made from (<c>NAME@DIGEST</c>, or <c>converted</c> locally).</summary>
    public string? BlockImage { get; init; }

    /// <summary>
    /// For a block-stack snapshot: the bytes of the image's manifest, its config and the block variant's manifest, so an
    /// export can carry the chain an importer verifies (manifest digest → config → diff IDs; variant → source digest,
    /// config, index). Absent in snapshots made before archives carried them.
    /// </summary>
    public BlockProvenance? Provenance { get; init; }

    public DateTimeOffset Created { get; init; }
}

/// <summary>The documents that bind a block-stack snapshot's index to the image it is the snapshot of.</summary>
internal sealed record BlockProvenance
{
    public required byte[] Manifest { get; init; }

    public required byte[] Config { get; init; }

    public required byte[] VariantManifest { get; init; }
}

/// <summary><c>mounts/ID/mount.json</c>: a clone of a snapshot; its layers stay while its upper directory is mounted.</summary>
internal sealed record MountRecord
{
    public required string ManifestDigest { get; init; }

    public required string Target { get; init; }

    public required IReadOnlyList<string> ChainIds { get; init; }

    public DateTimeOffset Created { get; init; }
}

/// <summary>The snapshot kinds a store can hold.</summary>
internal static class SnapshotKinds
{
    /// <summary>Unpacked layer trees stacked as overlayfs lower directories.</summary>
    public const string OverlayTree = "overlay-tree";

    /// <summary>A frozen block-layer stack: one flattened, per-block verified disk file and its block index.</summary>
    public const string BlockStack = "block-stack";

    public static string Of(SnapshotKind kind) => kind == SnapshotKind.BlockStack ? BlockStack : OverlayTree;

    public static SnapshotKind Parse(string kind) => kind == BlockStack ? SnapshotKind.BlockStack : SnapshotKind.OverlayTree;
}

/// <summary>Who made a layer's tree (<see cref="LayerRecord.Origin"/>).</summary>
internal static class LayerOrigins
{
    /// <summary>Built by the store from a blob verified by digest and diff ID (a warm or an import).</summary>
    public const string Built = "built";

    /// <summary>Handed over under its chain ID by a local holder through <c>SnapshotStore.AdoptLayerAsync</c>; no diff ID recorded.</summary>
    public const string Adopted = "adopted";
}

/// <summary>The layer kinds under <c>layers/</c>.</summary>
internal static class LayerKinds
{
    public const string Tree = "tree";

    public const string Block = "block";
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, WriteIndented = true)]
[JsonSerializable(typeof(LayerRecord))]
[JsonSerializable(typeof(ImageRecord))]
[JsonSerializable(typeof(MountRecord))]
[JsonSerializable(typeof(Archive.SnapshotArchiveHeader))]
internal sealed partial class RecordJson : JsonSerializerContext
{
    /// <summary>Reads a record file; null when it is missing, truncated or not valid.</summary>
    public static T? TryRead<T>(string path, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> type)
        where T : class
    {
        try
        {
            byte[] bytes = File.ReadAllBytes(path);
            return bytes.Length is 0 or > (1 << 20) ? null : JsonSerializer.Deserialize(bytes, type);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or JsonException)
        {
            return null;
        }
    }
}

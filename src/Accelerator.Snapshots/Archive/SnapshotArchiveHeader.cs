namespace Accelerator.Snapshots.Archive;

/// <summary>The metadata entry (<c>snapshot.json</c>) that opens an exported snapshot.</summary>
internal sealed record SnapshotArchiveHeader
{
    public int Version { get; init; } = 1;

    public string Kind { get; init; } = Storage.SnapshotKinds.OverlayTree;

    public required string ManifestDigest { get; init; }

    public IReadOnlyList<string> References { get; init; } = [];

    public required IReadOnlyList<SnapshotArchiveLayer> Layers { get; init; }
}

/// <summary>One layer of an exported snapshot: its key, and the digest and size of its tree's tar (entry <c>layers/N.tar</c>).</summary>
internal sealed record SnapshotArchiveLayer
{
    public required string ChainId { get; init; }

    public required string DiffId { get; init; }

    public required string TarDigest { get; init; }

    public required long TarSize { get; init; }
}

namespace Accelerator.Snapshots.Archive;

/// <summary>The metadata entry (<c>snapshot.json</c>) that opens an exported snapshot.</summary>
internal sealed record SnapshotArchiveHeader
{
    /// <summary>
    /// Version 2: the archive carries the image's manifest and config bytes and, for a tree snapshot, the layer blobs
    /// (version 1 carried layer trees that only its own header vouched for, and is refused).
    /// </summary>
    public const int CurrentVersion = 2;

    public int Version { get; init; } = CurrentVersion;

    public string Kind { get; init; } = Storage.SnapshotKinds.OverlayTree;

    public required string ManifestDigest { get; init; }

    public IReadOnlyList<string> References { get; init; } = [];

    /// <summary>The disk of a block-stack snapshot (kind <c>block-stack</c>); absent for an overlay-tree snapshot.</summary>
    public SnapshotArchiveBlock? Block { get; init; }
}

/// <summary>
/// The disk of an exported block-stack snapshot: entry <c>block/manifest.json</c> (the block variant's manifest, which
/// names the image manifest as its source and lists the index), <c>block/index</c> (the block index, <see cref="IndexSize"/> bytes,
/// sha256 <see cref="IndexDigest"/>) then <c>block/data</c> (<see cref="DataSize"/> bytes: each stored block the
/// flattened stack reads, uncompressed, once, in stored-block order).
/// </summary>
internal sealed record SnapshotArchiveBlock
{
    public required string IndexDigest { get; init; }

    public required long IndexSize { get; init; }

    public required long DataSize { get; init; }

    public IReadOnlyList<string> DiffIds { get; init; } = [];

    public string? BlockImage { get; init; }
}

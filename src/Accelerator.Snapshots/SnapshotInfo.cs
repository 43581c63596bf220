namespace Accelerator.Snapshots;

/// <summary>A snapshot in the store: an image prepared as an immutable stack of unpacked layers, or as a verified block disk.</summary>
/// <param name="ManifestDigest">The image manifest it was made from (its key).</param>
/// <param name="References">The references it was warmed or imported as.</param>
/// <param name="ChainIds">The chain IDs of its layers, lowest first (a block-stack snapshot: its block index digest).</param>
/// <param name="SizeBytes">Disk bytes of its layers (layers shared with other snapshots count in each).</param>
/// <param name="Created">When it was published.</param>
/// <param name="LastUsed">When it was last warmed or mounted.</param>
/// <param name="Mounted">Whether a clone of it is mounted now (it cannot be evicted then).</param>
public sealed record SnapshotInfo(
    Digest ManifestDigest,
    IReadOnlyList<string> References,
    IReadOnlyList<Digest> ChainIds,
    long SizeBytes,
    DateTimeOffset Created,
    DateTimeOffset LastUsed,
    bool Mounted)
{
    /// <summary>How the snapshot is stored and cloned. <value>Default: <see cref="SnapshotKind.OverlayTree"/>.</value></summary>
    public SnapshotKind Kind { get; init; } = SnapshotKind.OverlayTree;
}

/// <summary>How a snapshot is stored and cloned.</summary>
public enum SnapshotKind
{
    /// <summary>Unpacked layer trees (one directory per chain ID) stacked as overlayfs lower directories; a clone adds an upper directory.</summary>
    OverlayTree,

    /// <summary>
    /// The image's block variant (<c>TAG-accel-block</c>, or converted locally) materialised as one flattened disk file
    /// whose every block is verified against the block index when read; a clone mounts its file system from that disk
    /// (FUSE file, loop device, read-only ext4) with an overlay upper directory for writes.
    /// </summary>
    BlockStack,
}

/// <summary>How a snapshot in the store matches an image.</summary>
public enum SnapshotMatchKind
{
    /// <summary>Nothing in the store shares a layer with the image.</summary>
    None,

    /// <summary>Layers sharing the image's lowest layers exist; warming tops them up with the missing ones.</summary>
    Prefix,

    /// <summary>A warm of the image is running (here or in another process); a mount waits for it.</summary>
    Warming,

    /// <summary>A snapshot of exactly this manifest exists.</summary>
    Exact,
}

/// <summary>The best snapshot match for an image.</summary>
/// <param name="Kind">How it matches.</param>
/// <param name="ManifestDigest">The image's manifest digest.</param>
/// <param name="SharedLayers">Layers of the image already in the store (a prefix of its chain).</param>
/// <param name="TotalLayers">Layers of the image.</param>
public sealed record SnapshotMatch(SnapshotMatchKind Kind, Digest ManifestDigest, int SharedLayers, int TotalLayers);

/// <summary>What a warm did.</summary>
/// <param name="Snapshot">The snapshot.</param>
/// <param name="LayersFetched">Layers downloaded and unpacked (0 when the snapshot existed).</param>
/// <param name="LayersReused">Layers already in the store.</param>
/// <param name="BytesFetched">Compressed bytes downloaded.</param>
/// <param name="BytesFetchedBySource">Compressed bytes per source (origin, mirror:HOST, layout).</param>
/// <param name="Elapsed">Wall time.</param>
public sealed record SnapshotWarmResult(
    SnapshotInfo Snapshot,
    int LayersFetched,
    int LayersReused,
    long BytesFetched,
    IReadOnlyDictionary<string, long> BytesFetchedBySource,
    TimeSpan Elapsed);

/// <summary>What the store found and repaired when it was opened.</summary>
/// <param name="StagingRemoved">Unfinished warms or imports removed (their process had died).</param>
/// <param name="LayersRemoved">Layer directories without valid metadata removed.</param>
/// <param name="SnapshotsRemoved">Snapshot records that were corrupt or missing layers removed.</param>
/// <param name="MountsRemoved">Clone directories whose overlay is no longer mounted removed.</param>
public sealed record SnapshotRecoveryReport(int StagingRemoved, int LayersRemoved, int SnapshotsRemoved, int MountsRemoved);

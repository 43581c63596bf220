namespace Accelerator.Snapshotter.Metadata;

/// <summary>What a snapshot is, as containerd's snapshots service names it.</summary>
public enum SnapshotKind
{
    /// <summary>A read-only view of a committed parent; cannot be committed.</summary>
    View = 1,

    /// <summary>A writable snapshot (an unpack in progress, a container's root); can be committed.</summary>
    Active = 2,

    /// <summary>An immutable snapshot that can be a parent; named by its committed name (a layer's chain ID).</summary>
    Committed = 3,
}

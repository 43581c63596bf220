using Accelerator.Snapshotter.Layers;

namespace Accelerator.Snapshotter.Metadata;

/// <summary>
/// One snapshot as the metadata keeps it. <see cref="Name"/> is the key of an active snapshot or a view and the name of
/// a committed one (containerd keeps both in one namespace); it is never used as a path: the snapshot's directory is
/// <c>ROOT/snapshots/ID</c>, named by <see cref="Id"/>.
/// </summary>
/// <param name="Id">The number naming the snapshot's directory and metadata file; unique, never reused while the record exists.</param>
/// <param name="Name">The key (active, view) or the committed name.</param>
/// <param name="Parent">The committed parent's name, or null.</param>
/// <param name="Kind">View, active or committed.</param>
/// <param name="Labels">The snapshot's labels (bounded by <see cref="SnapshotLabels"/>).</param>
/// <param name="Created">When it was created (for a committed snapshot: when it was committed).</param>
/// <param name="Updated">When its labels last changed.</param>
/// <param name="Source">For a provider-backed committed snapshot, what backs it; such a snapshot has no directory of its own.</param>
/// <param name="Usage">A committed snapshot's usage, measured once at commit; null for active snapshots and views (measured on demand).</param>
public sealed record SnapshotRecord(
    long Id,
    string Name,
    string? Parent,
    SnapshotKind Kind,
    IReadOnlyDictionary<string, string> Labels,
    DateTimeOffset Created,
    DateTimeOffset Updated,
    LayerSource? Source = null,
    SnapshotUsage? Usage = null)
{
    /// <summary>Whether the snapshot has a directory of its own (every snapshot except a provider-backed one).</summary>
    public bool HasDirectory => Source is null;
}

/// <summary>The disk a snapshot's own directory uses, counted like containerd does (allocated blocks of distinct inodes).</summary>
/// <param name="Size">Bytes allocated (512-byte blocks × 512).</param>
/// <param name="Inodes">Distinct inodes, the directory itself included.</param>
public readonly record struct SnapshotUsage(long Size, long Inodes);

namespace Accelerator.Replication;

/// <summary>What happened to one tag on one target.</summary>
public enum ReplicationStatus
{
    /// <summary>The image was copied (some blobs may have been there already or mounted).</summary>
    Copied,

    /// <summary>The target's tag already named the source's manifest digest; nothing was sent.</summary>
    Skipped,

    /// <summary>The target's tag was deleted because the source no longer has it (<see cref="ReplicationOptions.Delete"/>).</summary>
    Deleted,

    /// <summary>The source no longer has the tag (it went between listing or notification and copy); nothing to do.</summary>
    Gone,

    /// <summary>
    /// The source's tag named another digest than the one expected (a notification's), so nothing was copied; see
    /// <see cref="Replicator.ReplicateTagAsync"/>.
    /// </summary>
    Moved,

    /// <summary>The replication failed; see <see cref="ImageReplication.Error"/>.</summary>
    Failed,
}

/// <summary>The outcome of replicating one tag to one target.</summary>
/// <param name="Source">The source image, <c>host/repository:tag</c>.</param>
/// <param name="Target">The target image, <c>host/repository:tag</c>.</param>
/// <param name="Status">What happened.</param>
public sealed record ImageReplication(string Source, string Target, ReplicationStatus Status)
{
    /// <summary>The manifest (or index) digest replicated, skipped or deleted, when known.</summary>
    public Digest? Digest { get; init; }

    /// <summary>Manifests and indexes pushed.</summary>
    public int Manifests { get; init; }

    /// <summary>Blobs uploaded.</summary>
    public int BlobsCopied { get; init; }

    /// <summary>Blobs mounted from another repository of the target registry.</summary>
    public int BlobsMounted { get; init; }

    /// <summary>Blobs the target repository already had.</summary>
    public int BlobsSkipped { get; init; }

    /// <summary>Bytes uploaded.</summary>
    public long BytesCopied { get; init; }

    /// <summary>Why it failed (one line), for <see cref="ReplicationStatus.Failed"/>.</summary>
    public string? Error { get; init; }
}

/// <summary>The outcome of a replication run: one entry per tag and target, in a stable order.</summary>
/// <param name="Images">The entries.</param>
public sealed record ReplicationReport(IReadOnlyList<ImageReplication> Images)
{
    /// <summary>Whether nothing failed.</summary>
    public bool Succeeded => Images.All(i => i.Status != ReplicationStatus.Failed);

    /// <summary>The entries with <paramref name="status"/>.</summary>
    public int Count(ReplicationStatus status) => Images.Count(i => i.Status == status);

    /// <summary>Bytes uploaded over the whole run.</summary>
    public long BytesCopied => Images.Sum(i => i.BytesCopied);
}

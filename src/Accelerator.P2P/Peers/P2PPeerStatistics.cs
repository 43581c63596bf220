namespace Accelerator.P2P.Peers;

/// <summary>Counters (since start) of a <see cref="P2PPeer"/>.</summary>
public sealed record P2PPeerStatistics
{
    /// <summary>Pieces stored after a download from another peer.</summary>
    public long PiecesFromPeers { get; init; }

    /// <summary>Pieces stored after a back-to-source read from the registry.</summary>
    public long PiecesFromOrigin { get; init; }

    /// <summary>Bytes downloaded from other peers (verified).</summary>
    public long BytesFromPeers { get; init; }

    /// <summary>Bytes read from the registry (back-to-source and fallbacks).</summary>
    public long BytesFromOrigin { get; init; }

    /// <summary>Bytes uploaded to other peers.</summary>
    public long BytesUploaded { get; init; }

    /// <summary>Pieces uploaded to other peers.</summary>
    public long PiecesUploaded { get; init; }

    /// <summary>Piece requests refused for a missing or wrong token.</summary>
    public long UploadsForbidden { get; init; }

    /// <summary>Piece requests refused because every upload slot was busy.</summary>
    public long UploadsBusy { get; init; }

    /// <summary>Pieces from parents that did not match their digest (discarded; the parent was reported).</summary>
    public long CorruptPieces { get; init; }

    /// <summary>Failed piece fetches from parents (unreachable, slow, refused).</summary>
    public long ParentFailures { get; init; }

    /// <summary>Reads that went straight to the registry because no scheduler answered.</summary>
    public long OriginFallbacks { get; init; }

    /// <summary>Times a task moved to the next scheduler on the ring.</summary>
    public long SchedulerFailovers { get; init; }

    /// <summary>Blobs assembled and verified against their digest.</summary>
    public long BlobsCompleted { get; init; }

    /// <summary>Assembled blobs that failed their digest.</summary>
    public long BlobsCorrupt { get; init; }

    /// <summary>Blobs fetched for preheat (seed peers).</summary>
    public long BlobsPreheated { get; init; }

    /// <summary>Bytes in the piece store now.</summary>
    public long StoredBytes { get; init; }

    /// <summary>Pieces evicted from the store.</summary>
    public long PiecesEvicted { get; init; }

    /// <summary>Pieces that left the store (evicted, found corrupt) and were announced to the scheduler.</summary>
    public long EvictionsAnnounced { get; init; }

    /// <summary>Piece reads answered from the in-memory cache of pieces verified on arrival (no disk read, no re-hash).</summary>
    public long PieceMemoryHits { get; init; }

    /// <summary>Bytes in the in-memory piece cache now.</summary>
    public long MemoryCacheBytes { get; init; }

    /// <summary>Preheats a seed peer skipped as over its bounds (blob size, backlog).</summary>
    public long PreheatsSkipped { get; init; }
}

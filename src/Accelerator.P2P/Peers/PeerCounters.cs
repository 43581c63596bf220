namespace Accelerator.P2P.Peers;

/// <summary>
/// The peer's counters, shared by its parts (downloads, serving, reporting, preheating) and read by
/// <see cref="P2PPeer.GetStatistics"/>; updated with <see cref="Interlocked"/>.
/// </summary>
internal sealed class PeerCounters
{
#pragma warning disable SA1401 // Fields must be private: updated in place with Interlocked.
    public long PiecesFromPeers;
    public long PiecesFromOrigin;
    public long BytesFromPeers;
    public long BytesFromOrigin;
    public long BytesUploaded;
    public long PiecesUploaded;
    public long UploadsForbidden;
    public long UploadsBusy;
    public long CorruptPieces;
    public long ParentFailures;
    public long OriginFallbacks;
    public long SchedulerFailovers;
    public long BlobsCompleted;
    public long BlobsCorrupt;
    public long BlobsPreheated;
    public long EvictionsAnnounced;
    public long PreheatsSkipped;
#pragma warning restore SA1401
}

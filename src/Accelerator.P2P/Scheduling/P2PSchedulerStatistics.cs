namespace Accelerator.P2P.Scheduling;

/// <summary>Counters (since start) and gauges of a <see cref="P2PScheduler"/>.</summary>
public sealed record P2PSchedulerStatistics
{
    /// <summary>Peers known now.</summary>
    public int Peers { get; init; }

    /// <summary>Tasks known now.</summary>
    public int Tasks { get; init; }

    /// <summary>Heartbeats received.</summary>
    public long Heartbeats { get; init; }

    /// <summary>Tasks created.</summary>
    public long TasksCreated { get; init; }

    /// <summary>Task tokens issued (after an access check).</summary>
    public long TokensIssued { get; init; }

    /// <summary>Task tokens renewed for task members before their token expired.</summary>
    public long TokensRenewed { get; init; }

    /// <summary>Pieces peers announced they no longer store (evicted), so they stopped being offered as parents for them.</summary>
    public long PiecesEvicted { get; init; }

    /// <summary>Piece assignments to parents.</summary>
    public long PiecesFromParents { get; init; }

    /// <summary>Piece assignments back-to-source (registry reads).</summary>
    public long PiecesFromOrigin { get; init; }

    /// <summary>Pieces reported stored.</summary>
    public long PieceSuccesses { get; init; }

    /// <summary>Piece fetches reported failed.</summary>
    public long PieceFailures { get; init; }

    /// <summary>Pieces reported corrupt (wrong digest from a parent).</summary>
    public long CorruptPieces { get; init; }

    /// <summary>Parents banned for a task.</summary>
    public long ParentsBanned { get; init; }

    /// <summary>Peers forgotten after they stopped reporting.</summary>
    public long PeersForgotten { get; init; }

    /// <summary>Tasks reported complete and verified by a peer.</summary>
    public long TasksCompleted { get; init; }

    /// <summary>Tasks whose piece records were dropped after a peer found the blob digest wrong.</summary>
    public long TasksReset { get; init; }

    /// <summary>Blobs queued for preheating.</summary>
    public long PreheatBlobs { get; init; }

    /// <summary>First contacts refused because the scheduler knew <see cref="P2PSchedulerOptions.MaxPeers"/> peers.</summary>
    public long PeersRefused { get; init; }

    /// <summary>Registrations refused because the scheduler held <see cref="P2PSchedulerOptions.MaxTasks"/> tasks.</summary>
    public long TasksRefused { get; init; }

    /// <summary>Registrations refused because the blob is over <see cref="P2PSchedulerOptions.MaxBlobBytes"/>.</summary>
    public long BlobsTooLarge { get; init; }

    /// <summary>Registrations refused because the peer went over <see cref="P2PSchedulerOptions.MaxRegistrationsPerPeerPerMinute"/>.</summary>
    public long RegistrationsThrottled { get; init; }

    /// <summary>Requests naming a known peer without its secret.</summary>
    public long PeerAuthFailures { get; init; }

    /// <summary>Piece outcomes ignored because they named a parent the scheduler had not sent the reporter to.</summary>
    public long ReportsIgnored { get; init; }
}

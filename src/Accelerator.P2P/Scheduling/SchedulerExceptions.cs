namespace Accelerator.P2P.Scheduling;

/// <summary>A request names a peer the scheduler knows without carrying that peer's secret (HTTP 401).</summary>
public sealed class PeerAuthenticationException(string message) : Exception(message);

/// <summary>
/// A request the scheduler refuses because it would go over one of its limits (<see cref="P2PSchedulerOptions"/>): the
/// HTTP status in <see cref="Status"/> (413 blob too large, 429 too many registrations, 503 full). A peer reads such a
/// blob from the registry instead.
/// </summary>
public sealed class P2PLimitException(int status, string message) : Exception(message)
{
    /// <summary>The blob is over <see cref="P2PSchedulerOptions.MaxBlobBytes"/>.</summary>
    public const int TooLarge = 413;

    /// <summary>The peer registers more often than <see cref="P2PSchedulerOptions.MaxRegistrationsPerPeerPerMinute"/>.</summary>
    public const int Throttled = 429;

    /// <summary>The scheduler holds <see cref="P2PSchedulerOptions.MaxPeers"/> peers or <see cref="P2PSchedulerOptions.MaxTasks"/> tasks.</summary>
    public const int Full = 503;

    /// <summary>The HTTP status to answer with.</summary>
    public int Status { get; } = status;
}

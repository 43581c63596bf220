using System.ComponentModel.DataAnnotations;
using Accelerator.P2P.Protocol;
using Microsoft.Extensions.Options;

namespace Accelerator.P2P.Scheduling;

/// <summary>
/// Options of the <see cref="P2PScheduler"/> decision logic, checked by <see cref="P2PSchedulerOptionsValidator"/> (through
/// <see cref="Validate()"/> when a scheduler is created).
/// </summary>
public sealed class P2PSchedulerOptions : IValidatableObject
{
    /// <summary>The size of a piece.</summary>
    /// <value>Default 4 MiB; between 64 KiB and 64 MiB.</value>
    [Range(P2PProtocol.MinPieceSize, P2PProtocol.MaxPieceSize)]
    public int PieceSize { get; set; } = 4 * 1024 * 1024;

    /// <summary>How often peers should send heartbeats.</summary>
    /// <value>Default 2 s.</value>
    [Range(typeof(TimeSpan), "00:00:00.010", "00:10:00")]
    public TimeSpan HeartbeatInterval { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>A peer not heard from for this long is forgotten: its pieces are no longer offered, its leases released.</summary>
    /// <value>Default 10 s.</value>
    [Range(typeof(TimeSpan), "00:00:00.050", "01:00:00")]
    public TimeSpan PeerTtl { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>How long a peer sent back-to-source for a piece has before another peer may be sent instead.</summary>
    /// <value>Default 30 s.</value>
    [Range(typeof(TimeSpan), "00:00:00.010", "01:00:00")]
    public TimeSpan SourceLeaseTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How long a piece assigned from parents stays reserved for the peer (and counted against the parent's slots) without a report.</summary>
    /// <value>Default 30 s.</value>
    [Range(typeof(TimeSpan), "00:00:00.010", "01:00:00")]
    public TimeSpan PieceLeaseTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// The most pieces of one task read from the registry at once (back-to-source leases running). Fewer concurrent
    /// reads share the registry's bandwidth among fewer pieces, so the first pieces arrive early and the swarm relays
    /// them while the rest are on their way, instead of every piece arriving together at the end.
    /// </summary>
    /// <value>Default 8.</value>
    [Range(1, 4096)]
    public int MaxOriginReadsPerTask { get; set; } = 8;

    /// <summary>The most parents named for one piece.</summary>
    /// <value>Default 3.</value>
    [Range(1, 64)]
    public int ParentsPerPiece { get; set; } = 3;

    /// <summary>The most holders of a piece scored when choosing its parents (a random sample above that).</summary>
    /// <value>Default 32.</value>
    [Range(1, 4096)]
    public int CandidateSample { get; set; } = 32;

    /// <summary>Failures (unreachable, slow, refused) after which a parent is banned for a task; a corrupt piece bans at once.</summary>
    /// <value>Default 3.</value>
    [Range(1, 1000)]
    public int FailuresBeforeBan { get; set; } = 3;

    /// <summary>The delay a peer is told to wait when no piece can be assigned now.</summary>
    /// <value>Default 100 ms.</value>
    [Range(typeof(TimeSpan), "00:00:00.001", "00:01:00")]
    public TimeSpan RetryAfter { get; set; } = TimeSpan.FromMilliseconds(100);

    /// <summary>
    /// The key task tokens are derived from (HMAC-SHA256). Schedulers that share it issue the same token for a task,
    /// so a scheduler failover costs nothing.
    /// </summary>
    /// <value>Default <see langword="null"/>: a random key per scheduler. At least 16 bytes when set.</value>
    public byte[]? TokenKey { get; set; }

    /// <summary>
    /// How long a task token stays valid at most. Tokens are issued per half-lifetime epoch (everyone registering in the
    /// same epoch gets the same token, so parents compare tokens without asking the scheduler) and expire one to two
    /// epochs later; the scheduler renews them for the peers it still counts as task members through schedule and
    /// heartbeat answers before they expire. A peer that left, or was forgotten, stops being renewed, and its token stops
    /// opening pieces within this time. <see cref="TimeSpan.Zero"/> issues the tokens of protocol version 1, which never
    /// expire (for a fleet that still has peers that do not renew).
    /// </summary>
    /// <value>Default 1 h; zero, or at least four heartbeat intervals and at most 7 days.</value>
    public TimeSpan TokenLifetime { get; set; } = TimeSpan.FromHours(1);

    /// <summary>
    /// The largest blob shared through P2P; a registration for a larger one is refused (413) and the peer reads it from
    /// the registry. Bounds the per-piece state one registration makes the scheduler allocate.
    /// </summary>
    /// <value>Default 64 GiB; between 1 byte and the protocol's bound (<see cref="P2PProtocol.MaxPieceCount"/> pieces).</value>
    [Range(1L, long.MaxValue)]
    public long MaxBlobBytes { get; set; } = 64L * 1024 * 1024 * 1024;

    /// <summary>The most tasks held at once; a registration creating one more is refused (503).</summary>
    /// <value>Default 10,000.</value>
    [Range(1, 10_000_000)]
    public int MaxTasks { get; set; } = 10_000;

    /// <summary>The most peers known at once; a first contact beyond it is refused (503).</summary>
    /// <value>Default 10,000.</value>
    [Range(1, 10_000_000)]
    public int MaxPeers { get; set; } = 10_000;

    /// <summary>The most task registrations one peer may make per minute; more are refused (429) until the minute ends.</summary>
    /// <value>Default 600.</value>
    [Range(1, 1_000_000)]
    public int MaxRegistrationsPerPeerPerMinute { get; set; } = 600;

    /// <summary>The most blobs waiting for one seed peer's next heartbeat; a preheat beyond it is not queued for that seed.</summary>
    /// <value>Default 1,024.</value>
    [Range(1, P2PProtocol.MaxPiecesPerRequest)]
    public int MaxPendingPreheatPerSeed { get; set; } = 1024;

    /// <summary>The seed for random tie-breaks among equally scored parents (for reproducible simulations).</summary>
    /// <value>Default <see langword="null"/>: a random seed.</value>
    public int? RandomSeed { get; set; }

    /// <summary>
    /// Checks the options with <see cref="P2PSchedulerOptionsValidator"/> and throws <see cref="ValidationException"/>
    /// naming every problem.
    /// </summary>
    public void Validate()
    {
        if (new P2PSchedulerOptionsValidator().Validate(null, this) is { Failed: true } result)
        {
            throw new ValidationException(result.FailureMessage);
        }
    }

    /// <summary>The rules across fields: token key and lifetime, blob size in pieces, peer TTL.</summary>
    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (TokenKey is { Length: < 16 })
        {
            yield return new ValidationResult("TokenKey must be at least 16 bytes.");
        }

        if (TokenLifetime != TimeSpan.Zero && (TokenLifetime < 4 * HeartbeatInterval || TokenLifetime > TimeSpan.FromDays(7)))
        {
            yield return new ValidationResult("TokenLifetime must be zero, or between four heartbeat intervals and 7 days.");
        }

        if (PieceSize > 0 && (MaxBlobBytes + PieceSize - 1) / PieceSize > P2PProtocol.MaxPieceCount)
        {
            yield return new ValidationResult($"MaxBlobBytes must be at most {P2PProtocol.MaxPieceCount} pieces of PieceSize.");
        }

        if (PeerTtl <= HeartbeatInterval)
        {
            yield return new ValidationResult("PeerTtl must be longer than HeartbeatInterval.");
        }
    }
}

/// <summary>Validates <see cref="P2PSchedulerOptions"/> (generated from its data annotations and rules).</summary>
[OptionsValidator]
public sealed partial class P2PSchedulerOptionsValidator : IValidateOptions<P2PSchedulerOptions>
{
}

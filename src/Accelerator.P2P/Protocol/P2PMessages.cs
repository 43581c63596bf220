namespace Accelerator.P2P.Protocol;

/// <summary>Where a peer is: the labels the scheduler uses to prefer nearby parents (same host, then rack, then zone).</summary>
public sealed record PeerLocality
{
    /// <summary>The host (node) name, or <see langword="null"/>.</summary>
    public string? Host { get; init; }

    /// <summary>The rack, or <see langword="null"/>.</summary>
    public string? Rack { get; init; }

    /// <summary>The zone, or <see langword="null"/>.</summary>
    public string? Zone { get; init; }
}

/// <summary>A peer as it describes itself to the scheduler (in every heartbeat and task registration).</summary>
public sealed record PeerInfo
{
    /// <summary>The peer's stable identity: 1–128 characters of <c>[A-Za-z0-9._:-]</c>.</summary>
    public required string PeerId { get; init; }

    /// <summary>The base URL of the peer's piece API (absolute http or https).</summary>
    public required string Url { get; init; }

    /// <summary>Where the peer is.</summary>
    public PeerLocality? Locality { get; init; }

    /// <summary>Whether the peer is a seed: preferred for back-to-source and told to preheat.</summary>
    public bool Seed { get; init; }

    /// <summary>How many pieces the peer uploads at once.</summary>
    public int UploadSlots { get; init; }
}

/// <summary>
/// Credentials a peer forwards so the scheduler can check, at the registry itself, that the peer may read a blob.
/// The scheduler uses them for that one check (a HEAD of the blob) and never stores them.
/// </summary>
public sealed record RegistryCredential
{
    /// <summary>User name for basic auth or for the registry's token server.</summary>
    public string? Username { get; init; }

    /// <summary>Password for <see cref="Username"/>.</summary>
    public string? Password { get; init; }

    /// <summary>
    /// A ready <c>Authorization</c> header value the registry accepts (e.g. <c>Bearer …</c> from its token server, as a
    /// registry-mirror proxy receives it from containerd); used as is, instead of <see cref="Username"/>.
    /// </summary>
    public string? Authorization { get; init; }
}

/// <summary><c>POST /api/v1/peers/heartbeat</c>: the peer is alive; its answer carries preheat work for seed peers.</summary>
public sealed record HeartbeatRequest
{
    /// <summary>The peer.</summary>
    public required PeerInfo Peer { get; init; }

    /// <summary>Upload slots free right now.</summary>
    public int FreeUploadSlots { get; init; }
}

/// <summary>The answer to a heartbeat.</summary>
public sealed record HeartbeatResponse
{
    /// <summary>How often the scheduler wants heartbeats, in milliseconds; a peer silent for a few intervals is forgotten.</summary>
    public int IntervalMs { get; init; }

    /// <summary>Blobs a seed peer should fetch now (empty for other peers).</summary>
    public IReadOnlyList<BlobRef> Preheat { get; set; } = [];

    /// <summary>
    /// Renewed tokens for tasks the peer is a member of whose token the scheduler has not renewed yet (empty when none
    /// is due, and always from a scheduler whose tokens do not expire).
    /// </summary>
    public IReadOnlyList<TaskToken> Tokens { get; set; } = [];

    /// <summary>
    /// The peer's secret, issued at first contact (the scheduler did not know the peer): send it in
    /// <see cref="P2PProtocol.PeerSecretHeader"/> with every later request to this scheduler. <see langword="null"/> when
    /// the peer already authenticated with its secret (or from an older scheduler).
    /// </summary>
    public string? PeerSecret { get; set; }
}

/// <summary>A task token the scheduler renewed before the one the peer holds expires.</summary>
public sealed record TaskToken
{
    /// <summary>The task id: the blob digest.</summary>
    public required string TaskId { get; init; }

    /// <summary>The new token: send it from now on, and accept it (as well as the previous one, until it expires) from children.</summary>
    public required string Token { get; init; }

    /// <summary>Milliseconds from now until the token expires; 0 when it never does.</summary>
    public int ExpiresInMs { get; init; }
}

/// <summary>A blob in a registry repository.</summary>
public sealed record BlobRef
{
    /// <summary>The registry host, <c>host[:port]</c>.</summary>
    public required string Registry { get; init; }

    /// <summary>The repository path.</summary>
    public required string Repository { get; init; }

    /// <summary>The blob digest.</summary>
    public required string Digest { get; init; }

    /// <summary>The blob size in bytes, or -1 when unknown.</summary>
    public long Size { get; set; } = -1;
}

/// <summary><c>POST /api/v1/peers/leave</c>: the peer is going away; the scheduler forgets it now.</summary>
public sealed record LeaveRequest
{
    /// <summary>The peer.</summary>
    public required string PeerId { get; init; }
}

/// <summary>
/// <c>POST /api/v1/tasks/register</c>: the peer joins the task for a blob. The scheduler checks at the registry that the
/// peer may read the blob (HEAD with the forwarded credential) and only then issues the task token.
/// </summary>
public sealed record RegisterTaskRequest
{
    /// <summary>The peer.</summary>
    public required PeerInfo Peer { get; init; }

    /// <summary>The blob the peer wants.</summary>
    public required BlobRef Blob { get; init; }

    /// <summary>The credential to check the peer's access with; <see langword="null"/> for anonymous access.</summary>
    public RegistryCredential? Credential { get; init; }
}

/// <summary>The answer to a task registration: the task's geometry and the token its pieces are served for.</summary>
public sealed record RegisterTaskResponse
{
    /// <summary>The task id: the blob digest.</summary>
    public required string TaskId { get; init; }

    /// <summary>The token to send (<see cref="P2PProtocol.TokenHeader"/>) when fetching this task's pieces, and to demand from others.</summary>
    public required string Token { get; init; }

    /// <summary>The blob size in bytes, as the registry reported it.</summary>
    public long Size { get; init; }

    /// <summary>The piece size in bytes; the last piece may be shorter.</summary>
    public int PieceSize { get; init; }

    /// <summary>The number of pieces.</summary>
    public int PieceCount { get; init; }

    /// <summary>
    /// Milliseconds from now until <see cref="Token"/> expires; 0 (or absent, from an older scheduler) when it never
    /// does. The scheduler sends a renewed token in schedule and heartbeat answers before then.
    /// </summary>
    public int TokenExpiresInMs { get; init; }

    /// <summary>The peer's secret when this registration was its first contact; see <see cref="HeartbeatResponse.PeerSecret"/>.</summary>
    public string? PeerSecret { get; set; }
}

/// <summary><c>POST /api/v1/tasks/{digest}/schedule</c>: which pieces should the peer fetch next, and from where.</summary>
public sealed record ScheduleRequest
{
    /// <summary>The peer.</summary>
    public required string PeerId { get; init; }

    /// <summary>The most pieces to assign in this answer (the peer's free download slots).</summary>
    public int MaxPieces { get; set; } = 1;

    /// <summary>Only these pieces (a ranged read); <see langword="null"/> for every piece the peer lacks.</summary>
    public IReadOnlyList<int>? Wanted { get; init; }

    /// <summary>
    /// Long poll: when no piece can be assigned now, the scheduler may hold the answer up to this many milliseconds
    /// (0 to <see cref="P2PProtocol.MaxScheduleWaitMs"/>) and answer as soon as something about the task changes (a piece
    /// stored, a lease released). 0, or absent (older peers), answers at once.
    /// </summary>
    public int WaitMs { get; init; }
}

/// <summary>The answer to a schedule request.</summary>
public sealed record ScheduleResponse
{
    /// <summary>Pieces to fetch now.</summary>
    public IReadOnlyList<PieceAssignment> Pieces { get; set; } = [];

    /// <summary>When no piece could be assigned: ask again after this many milliseconds.</summary>
    public int RetryAfterMs { get; init; }

    /// <summary>A renewed token for the task, when one is due; <see langword="null"/> otherwise.</summary>
    public TaskToken? Token { get; set; }
    /// <summary>
    /// The scheduler honoured <see cref="ScheduleRequest.WaitMs"/> (it already waited for a change), so an empty answer
    /// may be followed by the next request at once. Absent (false) from older schedulers: wait <see cref="RetryAfterMs"/>.
    /// </summary>
    public bool LongPolled { get; init; }
}

/// <summary>One piece to fetch: from parents (verified against <see cref="Digest"/>), or from the registry.</summary>
public sealed record PieceAssignment
{
    /// <summary>The piece index.</summary>
    public int Index { get; init; }

    /// <summary>The piece's sha256 digest as recorded by the peer that fetched it from the registry; <see langword="null"/> when <see cref="FromOrigin"/>.</summary>
    public string? Digest { get; init; }

    /// <summary>Whether this peer is the one to fetch the piece from the registry (back-to-source).</summary>
    public bool FromOrigin { get; init; }

    /// <summary>Parents holding the piece, best first; empty when <see cref="FromOrigin"/>.</summary>
    public IReadOnlyList<ParentRef> Parents { get; set; } = [];
}

/// <summary>A parent to fetch pieces from.</summary>
public sealed record ParentRef
{
    /// <summary>The parent's peer id.</summary>
    public required string PeerId { get; init; }

    /// <summary>The base URL of the parent's piece API.</summary>
    public required string Url { get; init; }
}

/// <summary>Why fetching a piece failed.</summary>
public enum PieceFailure
{
    /// <summary>No failure.</summary>
    None = 0,

    /// <summary>The parent could not be reached or broke the transfer.</summary>
    Unreachable = 1,

    /// <summary>The parent was too slow.</summary>
    Slow = 2,

    /// <summary>The parent served bytes that do not hash to the piece digest (the parent is banned for the task).</summary>
    Corrupt = 3,

    /// <summary>The parent refused (no token, busy, piece gone).</summary>
    Refused = 4,

    /// <summary>The registry read failed (back-to-source).</summary>
    Origin = 5,

    /// <summary>The parent had no free upload slot (503); not held against it.</summary>
    Busy = 6,
}

/// <summary>The outcome of one piece fetch.</summary>
public sealed record PieceResult
{
    /// <summary>The piece index.</summary>
    public int Index { get; init; }

    /// <summary>Whether the piece is now stored, verified.</summary>
    public bool Success { get; init; }

    /// <summary>The piece's sha256 digest; accepted by the scheduler only from the peer it sent back-to-source for the piece.</summary>
    public string? Digest { get; init; }

    /// <summary>The parent the piece came from (or failed from); <see langword="null"/> for the registry.</summary>
    public string? ParentId { get; init; }

    /// <summary>Why it failed.</summary>
    public PieceFailure Failure { get; init; }

    /// <summary>How long the fetch took, in milliseconds.</summary>
    public int DurationMs { get; init; }
}

/// <summary><c>POST /api/v1/tasks/{digest}/reports</c>: outcomes of piece fetches, batched.</summary>
public sealed record PieceReportRequest
{
    /// <summary>The reporting peer.</summary>
    public required string PeerId { get; init; }

    /// <summary>The outcomes.</summary>
    public required IReadOnlyList<PieceResult> Results { get; init; }

    /// <summary>
    /// The reporter holds the whole blob and checked it against the task digest, so the piece digests it reports were
    /// computed from verified bytes: the scheduler accepts them for pieces whose digest it does not know yet (after a
    /// restart or a scheduler failover), and holds the reporter answerable for them (a later blob mismatch bans it).
    /// </summary>
    public bool BlobVerified { get; init; }

    /// <summary>
    /// Pieces the reporter no longer stores (evicted, or deleted after failing their check on disk): the scheduler stops
    /// naming it as a parent for them. <see langword="null"/> or empty when none.
    /// </summary>
    public IReadOnlyList<int>? Evicted { get; init; }
}

/// <summary>
/// <c>POST /api/v1/tasks/{digest}/complete</c>: the peer holds every piece and checked the whole blob's digest
/// (<see cref="Verified"/>), or found that the assembled blob does not match it.
/// </summary>
public sealed record TaskCompleteRequest
{
    /// <summary>The peer.</summary>
    public required string PeerId { get; init; }

    /// <summary>Whether the blob digest matched.</summary>
    public bool Verified { get; init; }
}

/// <summary><c>POST /api/v1/preheat</c>: make seed peers fetch an image's blobs ahead of demand.</summary>
public sealed record PreheatRequest
{
    /// <summary>The image reference, <c>host[:port]/repo[:tag|@digest]</c>.</summary>
    public required string Image { get; init; }

    /// <summary>The platform to resolve an index to (<c>os/arch[/variant]</c>); <see langword="null"/> for the scheduler's platform.</summary>
    public string? Platform { get; init; }

    /// <summary>The credential to read the image with.</summary>
    public RegistryCredential? Credential { get; init; }
}

/// <summary>The answer to a preheat request.</summary>
public sealed record PreheatResponse
{
    /// <summary>The blobs queued for the seed peers.</summary>
    public IReadOnlyList<BlobRef> Blobs { get; set; } = [];

    /// <summary>The seed peers that will fetch them.</summary>
    public int SeedPeers { get; init; }
}

/// <summary>The body of every 4xx/5xx answer of the scheduler API.</summary>
public sealed record ErrorResponse
{
    /// <summary>One line saying what was wrong.</summary>
    public required string Error { get; init; }
}

using System.Security.Cryptography;
using Accelerator.P2P.Protocol;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Accelerator.P2P.Scheduling;

/// <summary>
/// The P2P scheduler's decision logic, without HTTP: it knows tasks (one per blob digest), peers and the pieces each
/// holds; it answers a peer with scored parents per piece, sends exactly one peer back to the registry for a piece
/// nobody holds, bans parents that fail or lie, and forgets peers that stop reporting. Thread-safe; time comes from the
/// injected <see cref="TimeProvider"/>, so a discrete-event simulation can drive it with thousands of simulated peers.
/// </summary>
/// <remarks>
/// The caller is trusted to have checked a peer's access to a blob before <see cref="RegisterTask"/>, and to have
/// authenticated the peer a request names (<see cref="AuthenticatePeer(PeerInfo, string?)"/>):
/// <see cref="P2PSchedulerService"/> does both. A task is one blob digest at one registry, so a token earned at one
/// registry never opens pieces registered at another. Unknown peers or tasks throw <see cref="KeyNotFoundException"/>;
/// bad requests throw <see cref="P2PProtocolException"/>; requests over a limit throw <see cref="P2PLimitException"/>.
/// </remarks>
public sealed partial class P2PScheduler
{
    private readonly Lock _lock = new();
    private readonly P2PSchedulerOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Random _random;
    private readonly byte[] _tokenKey;
    private readonly Dictionary<string, PeerState> _peers = new(StringComparer.Ordinal);
    private readonly Dictionary<TaskKey, TaskState> _tasks = [];
    private readonly long _ttlTicks;
    private readonly long _sourceLeaseTicks;
    private readonly long _pieceLeaseTicks;
    private long _lastSweep;
    private SchedulerCounters _counters;

    /// <summary>Creates a scheduler.</summary>
    /// <exception cref="System.ComponentModel.DataAnnotations.ValidationException">An option is invalid.</exception>
    public P2PScheduler(P2PSchedulerOptions? options = null, TimeProvider? time = null, ILogger<P2PScheduler>? logger = null)
    {
        _options = options ?? new P2PSchedulerOptions();
        _options.Validate();
        _time = time ?? TimeProvider.System;
        _logger = logger ?? NullLogger<P2PScheduler>.Instance;
        _random = _options.RandomSeed is int seed ? new Random(seed) : new Random();
        _tokenKey = _options.TokenKey is { } key ? (byte[])key.Clone() : RandomNumberGenerator.GetBytes(32);
        _ttlTicks = ToTicks(_options.PeerTtl);
        _sourceLeaseTicks = ToTicks(_options.SourceLeaseTimeout);
        _pieceLeaseTicks = ToTicks(_options.PieceLeaseTimeout);
        _lastSweep = _time.GetTimestamp();
    }

    /// <summary>The options in force.</summary>
    public P2PSchedulerOptions Options => _options;

    /// <summary>Records that a peer is alive; hands a seed peer its pending preheat work.</summary>
    public HeartbeatResponse Heartbeat(HeartbeatRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        lock (_lock)
        {
            long now = Now();
            var peer = Upsert(request.Peer, now);
            peer.FreeUploadSlots = request.FreeUploadSlots;
            _counters.Heartbeats++;
            List<BlobRef> preheat = [];
            if (peer.Info.Seed && peer.PendingPreheat.Count > 0)
            {
                preheat.AddRange(peer.PendingPreheat);
                peer.PendingPreheat.Clear();
            }

            return new HeartbeatResponse { IntervalMs = (int)_options.HeartbeatInterval.TotalMilliseconds, Preheat = preheat, Tokens = RenewTokens(peer) };
        }
    }

    /// <summary>Forgets a peer now (it is shutting down).</summary>
    public void Leave(string peerId)
    {
        lock (_lock)
        {
            if (_peers.TryGetValue(peerId, out var peer))
            {
                Forget(peer, Now());
            }
        }
    }

    /// <summary>
    /// Adds the peer to the task for the blob (creating the task), and returns the task token and geometry. The caller
    /// has checked that the peer may read the blob, and <paramref name="verifiedSize"/> is the registry's size.
    /// </summary>
    public RegisterTaskResponse RegisterTask(RegisterTaskRequest request, long verifiedSize)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentOutOfRangeException.ThrowIfNegative(verifiedSize);
        var digest = Digest.Parse(request.Blob.Digest);
        var key = TaskKey.Of(request.Blob.Registry, digest);
        int pieceCount = P2PProtocol.PieceCountOf(verifiedSize, _options.PieceSize);
        if (verifiedSize > _options.MaxBlobBytes || pieceCount < 0)
        {
            // The size is the registry's answer to someone else's credential: it is not echoed.
            Interlocked.Increment(ref _counters.BlobsTooLarge);
            throw new P2PLimitException(P2PLimitException.TooLarge, $"Blob {digest} is over this scheduler's size limit for P2P; read it from the registry.");
        }

        lock (_lock)
        {
            long now = Now();
            MaybeSweep(now);
            var peer = Upsert(request.Peer, now);
            CountRegistration(peer, now);
            if (!_tasks.TryGetValue(key, out var task))
            {
                if (_tasks.Count >= _options.MaxTasks)
                {
                    _counters.TasksRefused++;
                    throw new P2PLimitException(P2PLimitException.Full, "The scheduler has as many tasks as it may hold; read the blob from the registry.");
                }

                task = new TaskState(key, verifiedSize, _options.PieceSize, pieceCount);
                _tasks.Add(key, task);
                _counters.TasksCreated++;
            }
            else if (task.Size != verifiedSize)
            {
                throw new P2PProtocolException($"Blob {digest} has another size at the registry than in this task.");
            }

            if (peer.TaskByDigest.TryGetValue(digest, out var previous) && previous != task)
            {
                // One registry per digest and peer: the peer's word about its pieces now counts for this task only.
                LeaveTask(peer, previous, now);
            }

            long epoch = TokenEpoch();
            if (task.Members.TryGetValue(peer.Info.PeerId, out var existing))
            {
                existing.TokenEpoch = epoch;
            }
            else
            {
                var member = new TaskMember(peer, task.PieceCount) { TokenEpoch = epoch };
                task.Members.Add(peer.Info.PeerId, member);
                if (peer.Info.Seed)
                {
                    task.Seeds.Add(member);
                }

                peer.Tasks.Add(task);
                peer.TaskByDigest[digest] = task;
            }

            _counters.TokensIssued++;
            return new RegisterTaskResponse
            {
                TaskId = digest.Value,
                Token = TokenFor(key, epoch),
                Size = task.Size,
                PieceSize = task.PieceSize,
                PieceCount = task.PieceCount,
                TokenExpiresInMs = TokenExpiresInMs(epoch),
            };
        }
    }

    /// <summary>Queues the blobs for every live seed peer (delivered with their next heartbeat); returns the number of seeds.</summary>
    public int EnqueuePreheat(IReadOnlyList<BlobRef> blobs)
    {
        ArgumentNullException.ThrowIfNull(blobs);
        lock (_lock)
        {
            long now = Now();
            MaybeSweep(now);
            int seeds = 0;
            foreach (var peer in _peers.Values)
            {
                if (peer.Info.Seed && IsAlive(peer, now))
                {
                    // Bounded: a seed that does not heartbeat for a while gets at most this much work at once.
                    peer.PendingPreheat.AddRange(blobs.Take(Math.Max(0, _options.MaxPendingPreheatPerSeed - peer.PendingPreheat.Count)));
                    seeds++;
                }
            }

            _counters.PreheatBlobs += blobs.Count;
            return seeds;
        }
    }

    /// <summary>
    /// Forgets every peer not heard from within <see cref="P2PSchedulerOptions.PeerTtl"/> and releases piece leases that
    /// ran out (freeing their parents' upload slots); returns how many peers were forgotten.
    /// </summary>
    public int Sweep()
    {
        lock (_lock)
        {
            return SweepLocked(Now());
        }
    }

    /// <summary>Counters and gauges of the scheduler.</summary>
    public P2PSchedulerStatistics GetStatistics()
    {
        lock (_lock)
        {
            return new P2PSchedulerStatistics
            {
                Peers = _peers.Count,
                Tasks = _tasks.Count,
                Heartbeats = _counters.Heartbeats,
                TasksCreated = _counters.TasksCreated,
                TokensIssued = _counters.TokensIssued,
                TokensRenewed = _counters.TokensRenewed,
                PiecesEvicted = _counters.PiecesEvicted,
                PiecesFromParents = _counters.PiecesFromParents,
                PiecesFromOrigin = _counters.PiecesFromOrigin,
                PieceSuccesses = _counters.PieceSuccesses,
                PieceFailures = _counters.PieceFailures,
                CorruptPieces = _counters.CorruptPieces,
                ParentsBanned = _counters.ParentsBanned,
                PeersForgotten = _counters.PeersForgotten,
                TasksCompleted = _counters.TasksCompleted,
                TasksReset = _counters.TasksReset,
                PreheatBlobs = _counters.PreheatBlobs,
                PeersRefused = _counters.PeersRefused,
                TasksRefused = _counters.TasksRefused,
                BlobsTooLarge = Interlocked.Read(ref _counters.BlobsTooLarge),
                RegistrationsThrottled = _counters.RegistrationsThrottled,
                PeerAuthFailures = _counters.PeerAuthFailures,
                ReportsIgnored = _counters.ReportsIgnored,
            };
        }
    }

    /// <summary>Whether <paramref name="peerId"/> is banned as a parent for <paramref name="task"/>.</summary>
    public bool IsBanned(Digest task, string peerId)
    {
        lock (_lock)
        {
            foreach (var state in _tasks.Values)
            {
                if (state.Digest == task && state.Banned.Contains(peerId))
                {
                    return true;
                }
            }

            return false;
        }
    }

    /// <summary>Whether the scheduler knows <paramref name="peerId"/> (it has not been forgotten).</summary>
    public bool KnowsPeer(string peerId)
    {
        lock (_lock)
        {
            return _peers.ContainsKey(peerId);
        }
    }

    private long Now() => _time.GetTimestamp();

    private long ToTicks(TimeSpan span) => (long)(span.TotalSeconds * _time.TimestampFrequency);

    private bool IsAlive(PeerState peer, long now) => now - peer.LastSeen <= _ttlTicks;

    private PeerState Upsert(PeerInfo info, long now)
    {
        if (_peers.TryGetValue(info.PeerId, out var peer))
        {
            bool wasFree = peer.HasFreeSlot;
            peer.Info = info;
            peer.LastSeen = now;
            if (wasFree != peer.HasFreeSlot)
            {
                RefreshFreeHolder(peer);
            }

            return peer;
        }

        peer = new PeerState(info, now, NewSecret());
        AddPeer(peer);
        Log.PeerJoined(_logger, info.PeerId, info.Url, info.Seed);
        return peer;
    }

    private PeerState Touch(string peerId, long now)
    {
        if (!_peers.TryGetValue(peerId, out var peer))
        {
            throw new KeyNotFoundException($"Peer '{peerId}' is not known (register again).");
        }

        peer.LastSeen = now;
        return peer;
    }

    private void MaybeSweep(long now)
    {
        // Amortised: a full sweep at most every quarter TTL, so a busy scheduler with many peers stays O(1) per call.
        if (now - _lastSweep >= _ttlTicks / 4)
        {
            SweepLocked(now);
        }
    }

    private int SweepLocked(long now)
    {
        _lastSweep = now;
        List<PeerState>? stale = null;
        foreach (var peer in _peers.Values)
        {
            if (!IsAlive(peer, now))
            {
                (stale ??= []).Add(peer);
            }
        }

        foreach (var peer in stale ?? [])
        {
            Forget(peer, now);
            _counters.PeersForgotten++;
            Log.PeerForgotten(_logger, peer.Info.PeerId);
        }

        // Leases that ran out free their parents' upload slots even when the child never asks again (it finished a
        // ranged read, or is stuck): a slot handed out is not offered to anyone else until then.
        foreach (var task in _tasks.Values)
        {
            foreach (var member in task.Members.Values)
            {
                if (member.InFlight.Count > 0)
                {
                    ReleaseInFlight(task, member, now, all: false);
                }
            }
        }

        return stale?.Count ?? 0;
    }

    private void Forget(PeerState peer, long now)
    {
        _peers.Remove(peer.Info.PeerId);
        foreach (var task in peer.Tasks)
        {
            RemoveMember(peer, task, now);
        }

        peer.Tasks.Clear();
        peer.TaskByDigest.Clear();
    }

    /// <summary>Takes the peer out of one task (it registered for the same digest at another registry).</summary>
    private void LeaveTask(PeerState peer, TaskState task, long now)
    {
        RemoveMember(peer, task, now);
        peer.Tasks.Remove(task);
        peer.TaskByDigest.Remove(task.Digest);
    }

    private void RemoveMember(PeerState peer, TaskState task, long now)
    {
        if (task.Members.Remove(peer.Info.PeerId, out var member))
        {
            task.Seeds.Remove(member);
            ReleaseInFlight(task, member, now, all: true);
        }

        for (int i = 0; i < task.PieceCount; i++)
        {
            RemoveHolder(task.Pieces[i], peer.Info.PeerId);
            if (task.Pieces[i].SourceLease == peer.Info.PeerId)
            {
                task.ClearSourceLease(i);
            }
        }

        if (task.Members.Count == 0)
        {
            _tasks.Remove(task.Key);
        }
    }

    private void ReleaseInFlight(TaskState task, TaskMember member, long now, bool all)
    {
        List<int>? expired = null;
        foreach (var (index, lease) in member.InFlight)
        {
            if (all || lease.Until <= now)
            {
                (expired ??= []).Add(index);
            }
        }

        foreach (int index in expired ?? [])
        {
            ReleaseLease(task, member, index);
        }
    }

    private void ReleaseLease(TaskState task, TaskMember member, int index)
    {
        if (!member.InFlight.Remove(index, out var lease))
        {
            return;
        }

        if (lease.Parent is not null && _peers.TryGetValue(lease.Parent, out var parent))
        {
            ChangeAssigned(parent, -1);
        }

        var piece = task.Pieces[index];
        if (lease.Parent is null && piece.SourceLease == member.Peer.Info.PeerId)
        {
            task.ClearSourceLease(index);
        }
    }

    /// <summary>The task of <paramref name="digest"/> the peer is a member of (one registry per digest and peer).</summary>
    private static TaskState GetTask(PeerState peer, Digest digest)
        => peer.TaskByDigest.TryGetValue(digest, out var state) ? state : throw new KeyNotFoundException($"Task {digest} is not known (register again).");

    private static TaskMember GetMember(TaskState task, string peerId)
        => task.Members.TryGetValue(peerId, out var member) ? member : throw new KeyNotFoundException($"Peer '{peerId}' has not registered for task {task.Digest}.");

    private struct SchedulerCounters
    {
        public long Heartbeats;
        public long TasksCreated;
        public long TokensIssued;
        public long TokensRenewed;
        public long PiecesEvicted;
        public long PiecesFromParents;
        public long PiecesFromOrigin;
        public long PieceSuccesses;
        public long PieceFailures;
        public long CorruptPieces;
        public long ParentsBanned;
        public long PeersForgotten;
        public long TasksCompleted;
        public long TasksReset;
        public long PreheatBlobs;
        public long PeersRefused;
        public long TasksRefused;
        public long BlobsTooLarge;
        public long RegistrationsThrottled;
        public long PeerAuthFailures;
        public long ReportsIgnored;
    }
}

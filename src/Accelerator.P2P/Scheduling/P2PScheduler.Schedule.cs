using Accelerator.P2P.Protocol;

namespace Accelerator.P2P.Scheduling;

public sealed partial class P2PScheduler
{
    /// <summary>
    /// Assigns up to <see cref="ScheduleRequest.MaxPieces"/> pieces the peer lacks, rarest first: from scored parents
    /// when some peer holds them, or back-to-source for exactly one peer when nobody does. Pieces assigned earlier and
    /// not yet reported are not assigned again until their lease runs out.
    /// </summary>
    public ScheduleResponse Schedule(Digest task, ScheduleRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        lock (_lock)
        {
            long now = Now();
            MaybeSweep(now);
            var peer = Touch(request.PeerId, now);
            var state = GetTask(peer, task);
            var member = GetMember(state, request.PeerId);
            ReleaseInFlight(state, member, now, all: false);

            var renewed = RenewToken(state, member);
            var candidates = CollectMissing(state, member, request.Wanted, out bool anyMissing);
            if (!anyMissing)
            {
                return new ScheduleResponse { Token = renewed };
            }

            // Rarest first; ties broken by a per-peer rotation so peers starting together spread over the pieces.
            // (A stable hash, not string.GetHashCode, which changes per process: a seeded simulation repeats exactly.)
            int rotation = (int)(StableHash(request.PeerId) % (uint)Math.Max(1, state.PieceCount));
            candidates.Sort((a, b) =>
            {
                int byHolders = state.Pieces[a].Holders.Count.CompareTo(state.Pieces[b].Holders.Count);
                return byHolders != 0 ? byHolders : Rotate(a).CompareTo(Rotate(b));
            });

            bool liveSeedElsewhere = !peer.Info.Seed && HasLiveSeed(state, peer, now);
            // A peer banned for the task may still download, but is never again trusted to read from the registry.
            bool mayGoToOrigin = !state.Banned.Contains(peer.Info.PeerId);
            int originReads = state.ActiveOriginReads(now);
            List<PieceAssignment> assigned = [];
            foreach (int index in candidates)
            {
                if (assigned.Count >= request.MaxPieces)
                {
                    break;
                }

                var piece = state.Pieces[index];
                if (piece.Digest is { } digest && piece.Holders.Count > 0)
                {
                    var parents = piece.FreeHolders.Count == 0 ? [] : ChooseParents(state, piece, member, now);
                    if (parents.Count == 0)
                    {
                        continue; // every holder's upload slots are handed out: another piece, or this one on a later call.
                    }

                    member.InFlight[index] = new PieceLease(parents[0].PeerId, now + _pieceLeaseTicks, [.. parents.Select(p => p.PeerId)]);
                    ChangeAssigned(_peers[parents[0].PeerId], +1);
                    _counters.PiecesFromParents++;
                    assigned.Add(new PieceAssignment { Index = index, Digest = digest.Value, Parents = parents });
                    continue;
                }

                if (piece.SourceLease is { } holder && piece.SourceLeaseUntil > now && _peers.ContainsKey(holder))
                {
                    continue; // somebody is reading it from the registry: wait for them.
                }

                if (liveSeedElsewhere || !mayGoToOrigin)
                {
                    continue; // a seed peer on this task goes back-to-source instead, or this peer may not.
                }

                if (originReads >= _options.MaxOriginReadsPerTask)
                {
                    continue; // enough of this task is on its way from the registry: the swarm relays those first.
                }

                state.SetSourceLease(index, peer.Info.PeerId, now + _sourceLeaseTicks);
                originReads++;
                member.InFlight[index] = new PieceLease(null, piece.SourceLeaseUntil);
                _counters.PiecesFromOrigin++;
                assigned.Add(new PieceAssignment { Index = index, FromOrigin = true });
            }

            if (assigned.Count > 0)
            {
                Log.PiecesAssigned(_logger, request.PeerId, task, assigned.Count, assigned.Count(a => a.FromOrigin));
            }

            return new ScheduleResponse
            {
                Pieces = assigned,
                RetryAfterMs = assigned.Count == 0 ? Math.Max(1, (int)_options.RetryAfter.TotalMilliseconds) : 0,
                Token = renewed,
            };

            int Rotate(int index) => (index - rotation + state.PieceCount) % state.PieceCount;
        }
    }

    /// <summary>
    /// Records piece outcomes: a success makes the peer a holder (and records the piece digest when the peer was sent
    /// back-to-source for the piece); a failure charges the parent, and a corrupt piece or repeated failures ban it for
    /// the task. Pieces the peer reports evicted stop being offered from it.
    /// </summary>
    public void Report(Digest task, PieceReportRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        lock (_lock)
        {
            long now = Now();
            var peer = Touch(request.PeerId, now);
            var state = GetTask(peer, task);
            var member = GetMember(state, request.PeerId);
            // The leases as they stood before this report: a child tries the parents of one piece in turn, so one report
            // may carry several outcomes for it, each about a parent the scheduler named.
            Dictionary<int, PieceLease>? leases = null;
            foreach (var result in request.Results)
            {
                if (result.Index >= state.PieceCount)
                {
                    throw new P2PProtocolException($"Piece {result.Index} is out of range for task {task} ({state.PieceCount} pieces).");
                }

                if (member.InFlight.TryGetValue(result.Index, out var lease))
                {
                    (leases ??= [])[result.Index] = lease;
                }
            }

            foreach (var result in request.Results)
            {
                PieceLease? lease = leases is not null && leases.TryGetValue(result.Index, out var l) ? l : null;
                ApplyResult(state, member, peer, result, request.BlobVerified, lease);
            }

            // Pieces the peer no longer stores: it is not named as their parent any more (a child sent there before this
            // arrived gets a 404, which is not held against the peer).
            foreach (int index in request.Evicted ?? [])
            {
                if (index >= state.PieceCount)
                {
                    throw new P2PProtocolException($"Evicted piece {index} is out of range for task {task} ({state.PieceCount} pieces).");
                }

                if (member.Held[index])
                {
                    Unhold(state, member, index);
                    _counters.PiecesEvicted++;
                }
            }
        }
    }

    /// <summary>
    /// The peer holds every piece and checked the blob digest. When it reports a mismatch, some back-to-source peer
    /// recorded a wrong piece digest: the task's piece records are dropped and those reporters banned for the task.
    /// </summary>
    public void Complete(Digest task, TaskCompleteRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        lock (_lock)
        {
            long now = Now();
            var peer = Touch(request.PeerId, now);
            var state = GetTask(peer, task);
            var member = GetMember(state, request.PeerId);
            if (request.Verified)
            {
                if (member.HeldCount != state.PieceCount)
                {
                    throw new P2PProtocolException($"Peer '{request.PeerId}' reported {task} complete holding {member.HeldCount} of {state.PieceCount} pieces.");
                }

                _counters.TasksCompleted++;
                return;
            }

            // The peers whose piece digests the complainer's pieces were checked against, as the task stands now.
            var suspects = new HashSet<string>(StringComparer.Ordinal);
            for (int i = 0; i < state.PieceCount; i++)
            {
                var piece = state.Pieces[i];
                if (member.Held[i] && member.HeldUnder[i] == piece.Digest && piece.DigestReporter is { } reporter)
                {
                    suspects.Add(reporter);
                }
            }

            // Every piece recorded on a suspect's word is dropped; a complaint about digests already dropped (stale)
            // bans nobody. Either way the complainer starts again from nothing.
            foreach (string suspect in suspects)
            {
                if (state.Banned.Add(suspect))
                {
                    _counters.ParentsBanned++;
                }
            }

            if (suspects.Count > 0)
            {
                _counters.TasksReset++;
                Log.TaskReset(_logger, task, request.PeerId);
            }

            for (int i = 0; i < state.PieceCount; i++)
            {
                var piece = state.Pieces[i];
                if (piece.DigestReporter is { } reporter && suspects.Contains(reporter))
                {
                    piece.Digest = null;
                    piece.DigestReporter = null;
                    state.ClearSourceLease(i);
                    foreach (var other in state.Members.Values)
                    {
                        Unhold(state, other, i);
                    }
                }

                Unhold(state, member, i);
            }

            ReleaseInFlight(state, member, now, all: true);
        }
    }

    private static void Unhold(TaskState state, TaskMember member, int index)
    {
        if (member.Held[index])
        {
            member.Held[index] = false;
            member.HeldUnder[index] = null;
            member.HeldCount--;
            RemoveHolder(state.Pieces[index], member.Peer.Info.PeerId);
        }
    }

    private void ApplyResult(TaskState state, TaskMember member, PeerState peer, PieceResult result, bool blobVerified, PieceLease? lease)
    {
        var piece = state.Pieces[result.Index];
        bool wasOrigin = lease is { Parent: null };
        ReleaseLease(state, member, result.Index);
        if (result.ParentId is not null && lease?.Named(result.ParentId) != true)
        {
            // Only a child the scheduler sent to a parent may speak about it: a report naming a parent this peer was not
            // sent to for this piece (a spoofed "corrupt" to ban an honest parent, a made-up success to credit one) does
            // not count against or for the parent. A success still says the reporter stores the piece (its lease may
            // have run out before it reported), under the digest the scheduler already knows.
            _counters.ReportsIgnored++;
            if (result.Success && piece.Digest is { } digest && (!Digest.TryParse(result.Digest, out var claimed) || claimed == digest))
            {
                Hold(state, member, result.Index, digest);
            }

            return;
        }

        PeerState? parent = result.ParentId is not null && _peers.TryGetValue(result.ParentId, out var p) ? p : null;
        if (!result.Success)
        {
            _counters.PieceFailures++;
            if (result.ParentId is not null && result.Failure == PieceFailure.Refused && parent is not null
                && state.Members.TryGetValue(result.ParentId, out var parentMember) && !parentMember.Held[result.Index])
            {
                // The parent announced it no longer stores the piece (evicted): its 404 is the truth, not a strike.
            }
            else if (result.ParentId is not null && result.Failure != PieceFailure.Busy)
            {
                ChargeParent(state, result.ParentId, parent, result.Failure);
            }
            else if (piece.SourceLease == peer.Info.PeerId)
            {
                state.ClearSourceLease(result.Index);
            }

            return;
        }

        _counters.PieceSuccesses++;
        Digest? reported = Digest.TryParse(result.Digest, out var d) ? d : null;
        if (result.ParentId is null)
        {
            // A piece digest is accepted only from the peer sent back-to-source for that piece, or from a peer that
            // checked the whole blob against its digest.
            bool leaseHolder = wasOrigin || piece.SourceLease == peer.Info.PeerId;
            if (piece.Digest is null && (leaseHolder || blobVerified) && reported is not null && !state.Banned.Contains(peer.Info.PeerId))
            {
                piece.Digest = reported;
                piece.DigestReporter = peer.Info.PeerId;
            }

            if (piece.SourceLease == peer.Info.PeerId)
            {
                state.ClearSourceLease(result.Index);
            }
        }
        else if (parent is not null)
        {
            parent.Successes++;
        }

        if (piece.Digest is { } known && (reported is null || reported == known))
        {
            Hold(state, member, result.Index, known);
        }
    }

    private static void Hold(TaskState state, TaskMember member, int index, Digest digest)
    {
        if (!member.Held[index])
        {
            member.Held[index] = true;
            member.HeldUnder[index] = digest;
            member.HeldCount++;
            AddHolder(state, member, index);
        }
    }

    private void ChargeParent(TaskState state, string parentId, PeerState? parent, PieceFailure failure)
    {
        if (parent is not null)
        {
            parent.Failures++;
        }

        if (failure == PieceFailure.Corrupt)
        {
            _counters.CorruptPieces++;
        }

        int failures = state.ParentFailures[parentId] = state.ParentFailures.GetValueOrDefault(parentId) + 1;
        if ((failure == PieceFailure.Corrupt || failures >= _options.FailuresBeforeBan) && state.Banned.Add(parentId))
        {
            _counters.ParentsBanned++;
            Log.ParentBanned(_logger, parentId, state.Digest, failure);
            foreach (var piece in state.Pieces)
            {
                RemoveHolder(piece, parentId);
            }
        }
    }

    private static List<int> CollectMissing(TaskState state, TaskMember member, IReadOnlyList<int>? wanted, out bool anyMissing)
    {
        List<int> candidates = [];
        bool missing = false;
        IEnumerable<int> indexes = wanted is null ? Enumerable.Range(0, state.PieceCount) : wanted.Distinct();
        foreach (int i in indexes)
        {
            if (i >= state.PieceCount)
            {
                throw new P2PProtocolException($"Piece {i} is out of range for task {state.Digest} ({state.PieceCount} pieces).");
            }

            if (member.Held[i])
            {
                if (wanted is null)
                {
                    continue;
                }

                // The peer asks for a piece it was recorded holding: it lost it (evicted, found corrupt, restarted
                // without its store). Its word about its own store wins; it is no longer offered as a parent for it.
                Unhold(state, member, i);
            }

            missing = true;
            if (!member.InFlight.ContainsKey(i))
            {
                candidates.Add(i);
            }
        }

        anyMissing = missing;
        return candidates;
    }

    private bool HasLiveSeed(TaskState state, PeerState self, long now)
    {
        foreach (var other in state.Seeds)
        {
            if (other.Peer != self && IsAlive(other.Peer, now) && !state.Banned.Contains(other.Peer.Info.PeerId))
            {
                return true;
            }
        }

        return false;
    }

    private List<ParentRef> ChooseParents(TaskState state, PieceState piece, TaskMember child, long now)
    {
        // Only holders with an upload slot not yet handed out: the first parent named gets the slot.
        var holders = piece.FreeHolders;
        int sample = Math.Min(holders.Count, _options.CandidateSample);
        var scored = new List<(double Score, PeerState Peer)>(sample);
        int start = holders.Count > sample ? _random.Next(holders.Count) : 0;
        for (int k = 0; k < sample; k++)
        {
            // A random window of the holder set: a sample without the cost of shuffling thousands of holders.
            string id = holders[(start + k) % holders.Count];
            if (id == child.Peer.Info.PeerId || state.Banned.Contains(id) || !_peers.TryGetValue(id, out var candidate) || !IsAlive(candidate, now))
            {
                continue;
            }

            scored.Add((Score(state, candidate, child), candidate));
        }

        scored.Sort((a, b) => b.Score.CompareTo(a.Score));
        var parents = new List<ParentRef>(Math.Min(scored.Count, _options.ParentsPerPiece));
        for (int i = 0; i < scored.Count && parents.Count < _options.ParentsPerPiece; i++)
        {
            parents.Add(new ParentRef { PeerId = scored[i].Peer.Info.PeerId, Url = scored[i].Peer.Info.Url });
        }

        return parents;
    }

    /// <summary>
    /// A parent's score for a child: free upload slots (its slots minus pieces already sent its way) weigh most, then
    /// success history (Laplace-smoothed), locality (host, rack, zone) and how much of the task it holds; a parent the
    /// child already fetches from loses most of its score, so one child does not take several slots of the same parent
    /// while others are free; a little noise spreads children over equally good parents.
    /// </summary>
    internal double Score(TaskState state, PeerState parent, TaskMember child)
    {
        double free = Math.Clamp((double)(parent.Slots - parent.AssignedUploads) / parent.Slots, -1, 1);
        double held = state.Members.TryGetValue(parent.Info.PeerId, out var member) ? (double)member.HeldCount / Math.Max(1, state.PieceCount) : 0;
        double success = (parent.Successes + 1.0) / (parent.Successes + parent.Failures + 2.0);
        double locality = Locality(parent.Info.Locality, child.Peer.Info.Locality);
        int already = 0;
        foreach (var lease in child.InFlight.Values)
        {
            if (lease.Parent == parent.Info.PeerId)
            {
                already++;
            }
        }

        return (0.4 * free) + (0.25 * success) + (0.2 * locality) + (0.15 * held) - (0.5 * already) + (0.01 * _random.NextDouble());
    }

    /// <summary>FNV-1a over the UTF-16 code units.</summary>
    private static uint StableHash(string text)
    {
        uint hash = 2166136261;
        foreach (char c in text)
        {
            hash = (hash ^ c) * 16777619;
        }

        return hash;
    }

    /// <summary>1 on the same host, 0.6 in the same rack, 0.3 in the same zone, else 0.</summary>
    internal static double Locality(PeerLocality? a, PeerLocality? b)
    {
        if (a is null || b is null)
        {
            return 0;
        }

        static bool Same(string? x, string? y) => !string.IsNullOrEmpty(x) && string.Equals(x, y, StringComparison.Ordinal);
        return Same(a.Host, b.Host) ? 1 : Same(a.Rack, b.Rack) ? 0.6 : Same(a.Zone, b.Zone) ? 0.3 : 0;
    }
}

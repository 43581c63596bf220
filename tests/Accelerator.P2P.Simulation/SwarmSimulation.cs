using Accelerator.P2P.Protocol;
using Accelerator.P2P.Scheduling;
using Microsoft.Extensions.Time.Testing;

namespace Accelerator.P2P.Simulation;

/// <summary>What one simulated swarm looks like.</summary>
internal sealed record SwarmSettings
{
    public int Peers { get; init; } = 1000;

    public long BlobBytes { get; init; } = 256L << 20;

    public int PieceBytes { get; init; } = 4 << 20;

    /// <summary>The registry's egress, bytes per second (200 Mbit/s).</summary>
    public double RegistryBytesPerSecond { get; init; } = 200e6 / 8;

    /// <summary>Host NIC speeds are drawn uniformly from this range, bytes per second (0.5–1 Gbit/s).</summary>
    public (double Min, double Max) HostBytesPerSecond { get; init; } = (500e6 / 8, 1e9 / 8);

    /// <summary>Pieces a peer downloads at once (the ScheduleRequest's maxPieces).</summary>
    public int DownloadSlots { get; init; } = 4;

    /// <summary>Uploads a peer serves at once.</summary>
    public int UploadSlots { get; init; } = 4;

    /// <summary>Peers start uniformly within this window.</summary>
    public TimeSpan StartWindow { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// How long a peer whose every named parent answered 503 waits before it reports <c>Busy</c> and asks again
    /// (P2PPeer's BusyBackoff).
    /// </summary>
    public TimeSpan BusyBackoff { get; init; } = TimeSpan.FromMilliseconds(50);

    /// <summary>The simulation step.</summary>
    public TimeSpan Step { get; init; } = TimeSpan.FromMilliseconds(20);

    public int Seed { get; init; } = 1;

    /// <summary>The scheduler's <see cref="P2PSchedulerOptions.MaxOriginReadsPerTask"/>; null for its default.</summary>
    public int? MaxOriginReads { get; init; }
}

/// <summary>The figures of one run.</summary>
internal sealed record SwarmResult(int Peers, double RegistryBytesRatio, double P50Seconds, double P99Seconds, double MaxSeconds, double DirectSeconds, IReadOnlyList<double> CompletionSeconds, long ScheduleCalls, TimeSpan WallClock)
{
    /// <summary>Where the time of groups of peers (by completion rank) went.</summary>
    public IReadOnlyList<TimelineRow> Timeline { get; init; } = [];

    /// <summary>Assignments every named parent answered 503 to (the child reported Busy and asked again).</summary>
    public long BusyBounces { get; init; }
}

/// <summary>
/// A group of peers' average timeline, in seconds from each peer's start: the first piece stored, and its download
/// slots' time split into downloading, waiting on parents whose upload slots were all busy (503 and back-off), and idle
/// (no piece assigned: the scheduler had nothing for it, or it waited to ask again). The three add up to completion.
/// </summary>
internal sealed record TimelineRow(string Group, int Peers, double Start, double FirstPiece, double Downloading, double WaitingForSlot, double Idle, double Done);

/// <summary>
/// A time-stepped fluid simulation of a swarm pulling one blob through the real <see cref="P2PScheduler"/>: every
/// decision (which pieces, which parent, who goes back to the registry) is the scheduler's; transfers share bandwidth
/// fairly — a parent's upload among its uploads, a child's download among its downloads, the registry's egress among
/// every back-to-source read. A child tries its parents in order and, when all of them have every upload slot busy,
/// backs off and reports <c>Busy</c> as <c>P2PPeer</c> does. Each peer's download slots are accounted every step
/// (downloading, waiting on busy parents, idle) for the timeline in <see cref="SwarmResult.Timeline"/>.
/// </summary>
internal sealed class SwarmSimulation
{
    private readonly SwarmSettings _settings;
    private readonly FakeTimeProvider _time = new(DateTimeOffset.UnixEpoch);
    private readonly P2PScheduler _scheduler;
    private readonly Digest _task = Digest.Compute("accel-p2p-simulated-blob"u8);
    private readonly string[] _pieceDigests;
    private readonly Peer[] _peers;
    private readonly List<Transfer> _transfers = [];
    private long _registryBytes;
    private long _scheduleCalls;
    private long _busyBounces;

    public SwarmSimulation(SwarmSettings settings)
    {
        _settings = settings;
        _scheduler = new P2PScheduler(CreateOptions(settings), _time);
        int pieces = P2PProtocol.PieceCountOf(settings.BlobBytes, settings.PieceBytes);
        _pieceDigests = Enumerable.Range(0, pieces).Select(i => Digest.Compute(BitConverter.GetBytes(i)).ToString()).ToArray();
        var random = new Random(settings.Seed);
        _peers = Enumerable.Range(0, settings.Peers).Select(i =>
        {
            double nic = settings.HostBytesPerSecond.Min + (random.NextDouble() * (settings.HostBytesPerSecond.Max - settings.HostBytesPerSecond.Min));
            var info = new PeerInfo
            {
                PeerId = $"peer-{i}",
                Url = $"http://10.{i / 65536 % 256}.{i / 256 % 256}.{i % 256}:65002/",
                Locality = new PeerLocality { Host = $"host-{i}", Rack = $"rack-{i / 40}", Zone = $"zone-{i % 3}" },
                UploadSlots = settings.UploadSlots,
            };
            return new Peer(info, nic, nic, pieces, settings.StartWindow.TotalSeconds * random.NextDouble());
        }).ToArray();
    }

    private static P2PSchedulerOptions CreateOptions(SwarmSettings settings)
    {
        // The scheduler's peer limit (10,000 by default) is for a real fleet; the simulation may drive more peers.
        var options = new P2PSchedulerOptions { PieceSize = settings.PieceBytes, RandomSeed = settings.Seed, MaxPeers = 10_000_000 };
        if (settings.MaxOriginReads is int reads)
        {
            options.MaxOriginReadsPerTask = reads;
        }

        return options;
    }

    public SwarmResult Run()
    {
        var wall = System.Diagnostics.Stopwatch.StartNew();
        double dt = _settings.Step.TotalSeconds;
        double t = 0;
        var byId = _peers.ToDictionary(p => p.Info.PeerId);
        int done = 0;
        while (done < _peers.Length)
        {
            foreach (var peer in _peers)
            {
                if (peer.Start > t || peer.Finished is not null)
                {
                    continue;
                }

                if (!peer.Registered)
                {
                    _scheduler.RegisterTask(new RegisterTaskRequest { Peer = peer.Info, Blob = new BlobRef { Registry = "registry.sim", Repository = "sim/blob", Digest = _task.ToString(), Size = _settings.BlobBytes } }, _settings.BlobBytes);
                    peer.Registered = true;
                    peer.NextHeartbeat = t + 2;
                }

                if (t >= peer.NextHeartbeat)
                {
                    _scheduler.Heartbeat(new HeartbeatRequest { Peer = peer.Info, FreeUploadSlots = Math.Max(0, _settings.UploadSlots - peer.Uploads) });
                    peer.NextHeartbeat = t + 2;
                }

                int free = _settings.DownloadSlots - peer.Downloads;
                if (free > 0 && t >= peer.NextSchedule)
                {
                    _scheduleCalls++;
                    var answer = _scheduler.Schedule(_task, new ScheduleRequest { PeerId = peer.Info.PeerId, MaxPieces = free });
                    foreach (var assignment in answer.Pieces)
                    {
                        if (peer.Known[assignment.Index])
                        {
                            // Reassigned after its lease ran out while the first transfer still runs: a real peer keeps one.
                            continue;
                        }

                        peer.Known[assignment.Index] = true;
                        // The scheduler ranks parents best first; a real peer tries them in that order, and a parent with
                        // every upload slot busy answers 503 until one frees (the transfer waits for a slot below).
                        var parents = assignment.FromOrigin ? null : assignment.Parents.Select(r => byId[r.PeerId]).ToArray();
                        _transfers.Add(new Transfer(peer, parents, assignment.Index, PieceLength(assignment.Index)));
                        peer.Downloads++;
                        if (parents is not null)
                        {
                            peer.WaitingTransfers++; // until a parent with a free upload slot takes it, below
                        }
                    }

                    peer.NextSchedule = answer.Pieces.Count == 0 ? t + Math.Max(answer.RetryAfterMs, 1) / 1000.0 : t;
                }
            }

            // A real peer tries the named parents in order; a parent with every upload slot busy answers 503 at once. When all
            // of them do, the peer waits BusyBackoff, reports Busy for each (the scheduler releases the piece) and asks again.
            for (int i = _transfers.Count - 1; i >= 0; i--)
            {
                var transfer = _transfers[i];
                if (transfer.BusyUntil is double until)
                {
                    if (t < until)
                    {
                        continue;
                    }

                    _transfers.RemoveAt(i);
                    var child = transfer.Child;
                    child.Downloads--;
                    child.WaitingTransfers--;
                    child.Known[transfer.Piece] = false;
                    child.NextSchedule = Math.Min(child.NextSchedule, t);
                    _busyBounces++;
                    _scheduler.Report(_task, new PieceReportRequest
                    {
                        PeerId = child.Info.PeerId,
                        Results = [.. transfer.Parents!.Select(p => new PieceResult { Index = transfer.Piece, ParentId = p.Info.PeerId, Failure = PieceFailure.Busy, DurationMs = 1 })],
                    });
                    continue;
                }

                if (transfer.Waiting)
                {
                    if (transfer.Parents!.FirstOrDefault(p => p.Uploads < _settings.UploadSlots) is { } free)
                    {
                        transfer.Parent = free;
                        free.Uploads++;
                        transfer.Child.WaitingTransfers--;
                    }
                    else
                    {
                        transfer.BusyUntil = t + _settings.BusyBackoff.TotalSeconds;
                    }
                }
            }

            // Each running peer's download slots this step: downloading, waiting on busy parents, or idle.
            foreach (var peer in _peers)
            {
                if (peer.Start <= t && peer.Finished is null)
                {
                    int waiting = peer.WaitingTransfers;
                    peer.WaitingSeconds += waiting * dt / _settings.DownloadSlots;
                    peer.DownloadingSeconds += (peer.Downloads - waiting) * dt / _settings.DownloadSlots;
                    peer.IdleSeconds += (_settings.DownloadSlots - peer.Downloads) * dt / _settings.DownloadSlots;
                    if (peer.Held == 0)
                    {
                        peer.FirstPieceWait += dt;
                    }
                }
            }

            // Fair shares: the registry's egress among back-to-source reads, each host's NIC among its transfers.
            int fromOrigin = _transfers.Count(x => x.Parents is null);
            for (int i = _transfers.Count - 1; i >= 0; i--)
            {
                var transfer = _transfers[i];
                if (transfer.Waiting)
                {
                    continue;
                }

                double rate = transfer.Child.DownBytesPerSecond / (transfer.Child.Downloads - transfer.Child.WaitingTransfers);
                rate = transfer.Parent is null
                    ? Math.Min(rate, _settings.RegistryBytesPerSecond / fromOrigin)
                    : Math.Min(rate, transfer.Parent.UpBytesPerSecond / transfer.Parent.Uploads);
                double moved = Math.Min(transfer.Remaining, rate * dt);
                transfer.Remaining -= moved;
                if (transfer.Parent is null)
                {
                    _registryBytes += (long)moved;
                }

                if (transfer.Remaining > 0.5)
                {
                    continue;
                }

                _transfers.RemoveAt(i);
                var child = transfer.Child;
                child.Downloads--;
                child.NextSchedule = Math.Min(child.NextSchedule, t);
                if (transfer.Parent is not null)
                {
                    transfer.Parent.Uploads--;
                }

                _scheduler.Report(_task, new PieceReportRequest
                {
                    PeerId = child.Info.PeerId,
                    Results = [new PieceResult { Index = transfer.Piece, Success = true, Digest = _pieceDigests[transfer.Piece], ParentId = transfer.Parent?.Info.PeerId, DurationMs = 1 }],
                });
                child.Held++;
                if (child.Held == _pieceDigests.Length)
                {
                    _scheduler.Complete(_task, new TaskCompleteRequest { PeerId = child.Info.PeerId, Verified = true });
                    child.Finished = t + dt - child.Start;
                    done++;
                }

            }

            t += dt;
            _time.Advance(_settings.Step);
            if (t > 3600)
            {
                throw new InvalidOperationException($"The swarm did not finish within an hour of simulated time ({done} of {_peers.Length} done).");
            }
        }

        var times = _peers.Select(p => p.Finished!.Value).Order().ToArray();
        var ordered = _peers.OrderBy(p => p.Finished!.Value).ToArray();
        static TimelineRow Describe(string group, Peer[] g) => new(
            group, g.Length, g.Average(p => p.Start), g.Average(p => p.FirstPieceWait), g.Average(p => p.DownloadingSeconds),
            g.Average(p => p.WaitingSeconds), g.Average(p => p.IdleSeconds), g.Average(p => p.Finished!.Value));
        TimelineRow[] timeline =
        [
            Describe("all", ordered),
            Describe("p45–p55", [.. ordered.Skip(ordered.Length * 45 / 100).Take(Math.Max(1, ordered.Length / 10))]),
            Describe("slowest 1%", [.. ordered.Skip(ordered.Length * 99 / 100)]),
        ];
        return new SwarmResult(
            _peers.Length,
            _registryBytes / (double)_settings.BlobBytes,
            Percentile(times, 0.50),
            Percentile(times, 0.99),
            times[^1],
            DirectSeconds(),
            times,
            _scheduleCalls,
            wall.Elapsed)
        {
            Timeline = timeline,
            BusyBounces = _busyBounces,
        };
    }

    /// <summary>Every peer pulling the whole blob from the registry at once, in the same fluid model.</summary>
    public double DirectSeconds()
    {
        // Each peer gets min(its NIC, a fair share of the registry); at 200 Mbit/s against 0.5-1 Gbit/s NICs the share
        // is the bound at every N, so all finish together once the registry has sent N blobs.
        double slowestNic = _peers.Min(p => p.DownBytesPerSecond);
        return Math.Max(_settings.BlobBytes * (double)_peers.Length / _settings.RegistryBytesPerSecond, _settings.BlobBytes / slowestNic);
    }

    private long PieceLength(int index) => Math.Min(_settings.PieceBytes, _settings.BlobBytes - ((long)index * _settings.PieceBytes));

    private static double Percentile(double[] sorted, double p) => sorted[Math.Clamp((int)Math.Ceiling(p * sorted.Length) - 1, 0, sorted.Length - 1)];

    private sealed class Peer(PeerInfo info, double up, double down, int pieces, double start)
    {
        public PeerInfo Info { get; } = info;

        public double UpBytesPerSecond { get; } = up;

        public double DownBytesPerSecond { get; } = down;

        public int Pieces { get; } = pieces;

        public double Start { get; } = start;

        public bool Registered { get; set; }

        public int Downloads { get; set; }

        public int Uploads { get; set; }

        public int Held { get; set; }

        public bool[] Known { get; } = new bool[pieces];

        public double NextSchedule { get; set; }

        public double NextHeartbeat { get; set; }

        public double? Finished { get; set; }

        public int WaitingTransfers { get; set; }

        public double WaitingSeconds { get; set; }

        public double DownloadingSeconds { get; set; }

        public double IdleSeconds { get; set; }

        public double FirstPieceWait { get; set; }
    }

    private sealed class Transfer(Peer child, Peer[]? parents, int piece, double length)
    {
        public Peer Child { get; } = child;

        /// <summary>The parents to try, best first; null for a back-to-source read.</summary>
        public Peer[]? Parents { get; } = parents;

        /// <summary>The parent serving the piece, once one had a free upload slot.</summary>
        public Peer? Parent { get; set; }

        public bool Waiting => Parents is not null && Parent is null;

        /// <summary>Every parent answered 503: when the child gives up on this assignment and reports Busy.</summary>
        public double? BusyUntil { get; set; }

        public int Piece { get; } = piece;

        public double Remaining { get; set; } = length;
    }
}

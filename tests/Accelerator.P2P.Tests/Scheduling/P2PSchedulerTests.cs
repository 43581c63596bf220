using Accelerator.P2P.Protocol;
using Accelerator.P2P.Scheduling;
using Microsoft.Extensions.Time.Testing;

namespace Accelerator.P2P.Tests.Scheduling;

public sealed class P2PSchedulerTests
{
    private const int PieceSize = 64 * 1024;
    private static readonly Digest Blob = Digest.Compute("the blob"u8);
    private readonly FakeTimeProvider _time = new();

    private P2PScheduler CreateScheduler(Action<P2PSchedulerOptions>? configure = null)
    {
        var options = new P2PSchedulerOptions { PieceSize = PieceSize, RandomSeed = 1 };
        configure?.Invoke(options);
        return new P2PScheduler(options, _time);
    }

    private static PeerInfo Peer(string id, bool seed = false, int slots = 4, PeerLocality? locality = null)
        => new() { PeerId = id, Url = $"http://127.0.0.1:1/{id}/", Seed = seed, UploadSlots = slots, Locality = locality };

    private static RegisterTaskResponse Register(P2PScheduler scheduler, PeerInfo peer, long size = 4L * PieceSize)
        => scheduler.RegisterTask(new RegisterTaskRequest { Peer = peer, Blob = new BlobRef { Registry = "r.example", Repository = "a/b", Digest = Blob.Value } }, size);

    private static ScheduleResponse Schedule(P2PScheduler scheduler, string peer, int max = 16, IReadOnlyList<int>? wanted = null)
        => scheduler.Schedule(Blob, new ScheduleRequest { PeerId = peer, MaxPieces = max, Wanted = wanted });

    private static string PieceDigest(int index) => Digest.Compute([(byte)index]).Value;

    private static void ReportOrigin(P2PScheduler scheduler, string peer, params int[] pieces)
        => scheduler.Report(Blob, new PieceReportRequest { PeerId = peer, Results = [.. pieces.Select(i => new PieceResult { Index = i, Success = true, Digest = PieceDigest(i) })] });

    [Fact]
    public void RegisterTask_ComputesGeometryAndIssuesTheTaskToken()
    {
        var scheduler = CreateScheduler(o => o.TokenKey = new byte[16]);
        var answer = Register(scheduler, Peer("a"), (3L * PieceSize) + 1);

        Assert.Equal(Blob.Value, answer.TaskId);
        Assert.Equal(4, answer.PieceCount);
        Assert.Equal(PieceSize, answer.PieceSize);
        Assert.Equal(scheduler.GetToken("r.example", Blob), answer.Token);
        Assert.Equal(answer.Token, CreateScheduler(o => o.TokenKey = new byte[16]).GetToken("r.example", Blob));
        Assert.NotEqual(answer.Token, scheduler.GetToken("r.example", Digest.Compute("other"u8)));
        Assert.NotEqual(answer.Token, CreateScheduler().GetToken("r.example", Blob));
    }

    [Fact]
    public void RegisterTask_SizeDisagreesWithTheTask_Throws()
    {
        var scheduler = CreateScheduler();
        Register(scheduler, Peer("a"), 1000);
        Assert.Throws<P2PProtocolException>(() => Register(scheduler, Peer("b"), 1001));
    }

    [Fact]
    public void Schedule_ManyPeersAskAtOnce_EachPieceGoesBackToSourceExactlyOnce()
    {
        var scheduler = CreateScheduler();
        var peers = Enumerable.Range(0, 200).Select(i => $"p{i}").ToArray();
        foreach (string peer in peers)
        {
            Register(scheduler, Peer(peer));
        }

        var origin = new System.Collections.Concurrent.ConcurrentBag<(string Peer, int Index)>();
        Parallel.ForEach(peers, new ParallelOptions { MaxDegreeOfParallelism = 8 }, peer =>
        {
            foreach (var piece in Schedule(scheduler, peer, max: 2).Pieces)
            {
                Assert.True(piece.FromOrigin);
                origin.Add((peer, piece.Index));
            }
        });

        Assert.Equal(4, origin.Count);
        Assert.Equal([0, 1, 2, 3], origin.Select(o => o.Index).Order());
        Assert.Equal(4, scheduler.GetStatistics().PiecesFromOrigin);
    }

    [Fact]
    public void Schedule_NothingAssignable_AsksToRetry()
    {
        var scheduler = CreateScheduler();
        Register(scheduler, Peer("a"));
        Register(scheduler, Peer("b"));
        Assert.Equal(4, Schedule(scheduler, "a").Pieces.Count);

        var answer = Schedule(scheduler, "b");

        Assert.Empty(answer.Pieces);
        Assert.Equal(100, answer.RetryAfterMs);
    }

    [Fact]
    public void Schedule_PieceHeld_AssignsTheHolderWithTheRecordedDigest()
    {
        var scheduler = CreateScheduler();
        Register(scheduler, Peer("a"));
        Register(scheduler, Peer("b"));
        Assert.Equal(4, Schedule(scheduler, "a").Pieces.Count);
        ReportOrigin(scheduler, "a", 0, 1, 2, 3);

        var answer = Schedule(scheduler, "b");

        Assert.Equal(4, answer.Pieces.Count);
        Assert.All(answer.Pieces, p =>
        {
            Assert.False(p.FromOrigin);
            Assert.Equal(PieceDigest(p.Index), p.Digest);
            Assert.Equal("a", Assert.Single(p.Parents).PeerId);
        });
    }

    [Fact]
    public void Report_DigestFromAPeerNotSentBackToSource_IsNotAccepted()
    {
        var scheduler = CreateScheduler();
        Register(scheduler, Peer("a"));
        Register(scheduler, Peer("liar"));
        Register(scheduler, Peer("c"));
        Assert.Equal(4, Schedule(scheduler, "a").Pieces.Count);

        ReportOrigin(scheduler, "liar", 0, 1, 2, 3);

        Assert.Empty(Schedule(scheduler, "c").Pieces);
    }

    [Fact]
    public void Report_VerifiedBlob_DigestsAcceptedWhereUnknown()
    {
        var scheduler = CreateScheduler();
        Register(scheduler, Peer("restarted"));
        Register(scheduler, Peer("c"));
        scheduler.Report(Blob, new PieceReportRequest
        {
            PeerId = "restarted",
            BlobVerified = true,
            Results = [.. Enumerable.Range(0, 4).Select(i => new PieceResult { Index = i, Success = true, Digest = PieceDigest(i) })],
        });
        scheduler.Complete(Blob, new TaskCompleteRequest { PeerId = "restarted", Verified = true });

        var answer = Schedule(scheduler, "c");

        Assert.Equal(4, answer.Pieces.Count);
        Assert.All(answer.Pieces, p => Assert.Equal("restarted", p.Parents[0].PeerId));
        Assert.Equal(1, scheduler.GetStatistics().TasksCompleted);
    }

    [Fact]
    public void Schedule_SeedOnTheTask_NonSeedsWaitForIt()
    {
        var scheduler = CreateScheduler();
        Register(scheduler, Peer("seed", seed: true));
        Register(scheduler, Peer("a"));

        Assert.Empty(Schedule(scheduler, "a").Pieces);
        Assert.All(Schedule(scheduler, "seed").Pieces, p => Assert.True(p.FromOrigin));
    }

    [Fact]
    public void Schedule_SourceLeaseRunsOut_AnotherPeerIsSent()
    {
        var scheduler = CreateScheduler(o => o.SourceLeaseTimeout = TimeSpan.FromSeconds(5));
        Register(scheduler, Peer("a"));
        Register(scheduler, Peer("b"));
        Assert.Equal(4, Schedule(scheduler, "a").Pieces.Count);
        Assert.Empty(Schedule(scheduler, "b").Pieces);

        _time.Advance(TimeSpan.FromSeconds(6));
        scheduler.Heartbeat(new HeartbeatRequest { Peer = Peer("a") });

        Assert.All(Schedule(scheduler, "b").Pieces, p => Assert.True(p.FromOrigin));
    }

    [Fact]
    public void Report_OriginFailure_ReleasesThePieceForAnotherPeer()
    {
        var scheduler = CreateScheduler();
        Register(scheduler, Peer("a"));
        Register(scheduler, Peer("b"));
        Schedule(scheduler, "a", max: 1);
        scheduler.Report(Blob, new PieceReportRequest { PeerId = "a", Results = [new PieceResult { Index = 0, Failure = PieceFailure.Origin }] });

        var answer = Schedule(scheduler, "b", wanted: [0]);

        Assert.True(Assert.Single(answer.Pieces).FromOrigin);
    }

    [Fact]
    public void Report_CorruptPiece_BansTheParentForTheTaskAtOnce()
    {
        var scheduler = CreateScheduler();
        Register(scheduler, Peer("a"));
        Register(scheduler, Peer("b"));
        Register(scheduler, Peer("c"));
        Schedule(scheduler, "a");
        ReportOrigin(scheduler, "a", 0, 1, 2, 3);
        Assert.Equal("a", Assert.Single(Schedule(scheduler, "b", wanted: [0]).Pieces).Parents[0].PeerId);

        scheduler.Report(Blob, new PieceReportRequest { PeerId = "b", Results = [new PieceResult { Index = 0, ParentId = "a", Failure = PieceFailure.Corrupt }] });

        Assert.True(scheduler.IsBanned(Blob, "a"));
        Assert.False(scheduler.IsBanned(Digest.Compute("other"u8), "a"));
        Assert.All(Schedule(scheduler, "c").Pieces, p => Assert.True(p.FromOrigin));
        Assert.Equal(1, scheduler.GetStatistics().CorruptPieces);
    }

    [Fact]
    public void Report_AboutAParentNotAssigned_NoStrikeButASuccessStillHolds()
    {
        var scheduler = CreateScheduler();
        Register(scheduler, Peer("a"));
        Register(scheduler, Peer("b"));
        Register(scheduler, Peer("c"));
        Schedule(scheduler, "a");
        ReportOrigin(scheduler, "a", 0, 1, 2, 3);

        scheduler.Report(Blob, new PieceReportRequest
        {
            PeerId = "b",
            Results =
            [
                new PieceResult { Index = 1, ParentId = "a", Failure = PieceFailure.Corrupt },
                new PieceResult { Index = 0, ParentId = "a", Success = true, Digest = PieceDigest(0) },
            ],
        });

        Assert.False(scheduler.IsBanned(Blob, "a"));
        Assert.Equal(2, scheduler.GetStatistics().ReportsIgnored);
        Assert.Contains("b", Assert.Single(Schedule(scheduler, "c", max: 1, wanted: [0]).Pieces).Parents.Select(p => p.PeerId));
    }

    [Fact]
    public void Report_RepeatedFailures_BanAfterTheThresholdButBusyNever()
    {
        var scheduler = CreateScheduler(o => o.FailuresBeforeBan = 3);
        Register(scheduler, Peer("a"));
        Register(scheduler, Peer("b"));
        Schedule(scheduler, "a");
        ReportOrigin(scheduler, "a", 0, 1, 2, 3);

        void Fail(PieceFailure failure)
        {
            // Only a child sent to a parent may report about it.
            Assert.Equal("a", Assert.Single(Schedule(scheduler, "b", wanted: [0]).Pieces).Parents[0].PeerId);
            scheduler.Report(Blob, new PieceReportRequest { PeerId = "b", Results = [new PieceResult { Index = 0, ParentId = "a", Failure = failure }] });
        }

        for (int i = 0; i < 10; i++)
        {
            Fail(PieceFailure.Busy);
        }

        Fail(PieceFailure.Unreachable);
        Fail(PieceFailure.Slow);
        Assert.False(scheduler.IsBanned(Blob, "a"));
        Fail(PieceFailure.Refused);
        Assert.True(scheduler.IsBanned(Blob, "a"));
        Assert.Equal(1, scheduler.GetStatistics().ParentsBanned);
    }

    [Fact]
    public void Sweep_PeerStopsReporting_ForgottenAndItsPiecesNoLongerOffered()
    {
        var scheduler = CreateScheduler(o => o.PeerTtl = TimeSpan.FromSeconds(10));
        Register(scheduler, Peer("a"));
        Register(scheduler, Peer("b"));
        Schedule(scheduler, "a");
        ReportOrigin(scheduler, "a", 0, 1, 2, 3);

        _time.Advance(TimeSpan.FromSeconds(8));
        scheduler.Heartbeat(new HeartbeatRequest { Peer = Peer("b") });
        Assert.Equal(0, scheduler.Sweep());
        _time.Advance(TimeSpan.FromSeconds(3));
        scheduler.Heartbeat(new HeartbeatRequest { Peer = Peer("b") });

        Assert.Equal(1, scheduler.Sweep());
        Assert.False(scheduler.KnowsPeer("a"));
        Assert.True(scheduler.KnowsPeer("b"));
        Assert.All(Schedule(scheduler, "b").Pieces, p => Assert.True(p.FromOrigin));
        Assert.Equal(1, scheduler.GetStatistics().PeersForgotten);
        Assert.Throws<KeyNotFoundException>(() => Schedule(scheduler, "a"));
    }

    [Fact]
    public void Leave_LastMember_ForgetsTheTask()
    {
        var scheduler = CreateScheduler();
        Register(scheduler, Peer("a"));
        scheduler.Leave("a");

        Assert.Equal(0, scheduler.GetStatistics().Tasks);
        Assert.Throws<KeyNotFoundException>(() => Schedule(scheduler, "a"));
    }

    [Fact]
    public void Schedule_ParentsScoredByFreeSlotsLocalityAndHistory()
    {
        var scheduler = CreateScheduler(o => o.ParentsPerPiece = 3);
        var here = new PeerLocality { Host = "h1", Rack = "r1", Zone = "z1" };
        Register(scheduler, Peer("child", locality: here));
        Register(scheduler, Peer("far", locality: new PeerLocality { Host = "h9", Rack = "r9", Zone = "z9" }));
        Register(scheduler, Peer("same-rack", locality: new PeerLocality { Host = "h2", Rack = "r1", Zone = "z1" }));
        Register(scheduler, Peer("same-host", slots: 1, locality: new PeerLocality { Host = "h1", Rack = "r1", Zone = "z1" }));
        Register(scheduler, Peer("c"));
        scheduler.Report(Blob, new PieceReportRequest
        {
            PeerId = "far",
            BlobVerified = true,
            Results = [.. Enumerable.Range(0, 4).Select(i => new PieceResult { Index = i, Success = true, Digest = PieceDigest(i) })],
        });
        foreach (string holder in new[] { "same-rack", "same-host" })
        {
            for (int i = 0; i < 4; i++)
            {
                // Sent to far (the first holder), one piece at a time, so far's upload counts as a success.
                Assert.Contains("far", Assert.Single(Schedule(scheduler, holder, max: 1, wanted: [i]).Pieces).Parents.Select(p => p.PeerId));
                scheduler.Report(Blob, new PieceReportRequest { PeerId = holder, Results = [new PieceResult { Index = i, Success = true, ParentId = "far" }] });
            }
        }

        var first = Schedule(scheduler, "child", max: 1, wanted: [0]);
        Assert.Equal(["same-host", "same-rack", "far"], Assert.Single(first.Pieces).Parents.Select(p => p.PeerId));

        // same-host's one upload slot is now handed out. For a child without locality, far (eight successful uploads) beats
        // same-rack (no history), and same-host, with no slot left to hand out, is not named at all.
        Assert.Equal(["far", "same-rack"], Schedule(scheduler, "c", max: 1, wanted: [0]).Pieces[0].Parents.Select(p => p.PeerId));
    }

    [Fact]
    public void Schedule_EveryHolderSlotHandedOut_PieceWaitsAndIsNotSentToTheRegistry()
    {
        var scheduler = CreateScheduler();
        Register(scheduler, Peer("a", slots: 2));
        Assert.True(Assert.Single(Schedule(scheduler, "a", wanted: [0]).Pieces).FromOrigin);
        ReportOrigin(scheduler, "a", 0);
        foreach (string child in new[] { "c1", "c2", "c3" })
        {
            Register(scheduler, Peer(child));
        }

        Assert.Equal("a", Assert.Single(Schedule(scheduler, "c1", wanted: [0]).Pieces).Parents[0].PeerId);
        Assert.Equal("a", Assert.Single(Schedule(scheduler, "c2", wanted: [0]).Pieces).Parents[0].PeerId);

        var third = Schedule(scheduler, "c3", wanted: [0]);

        Assert.Empty(third.Pieces);
        Assert.Equal(100, third.RetryAfterMs);
        Assert.Equal(1, scheduler.GetStatistics().PiecesFromOrigin);

        // c1's report gives the slot back: c3 is sent to a now.
        scheduler.Report(Blob, new PieceReportRequest { PeerId = "c1", Results = [new PieceResult { Index = 0, Success = true, ParentId = "a" }] });
        Assert.Equal(["a", "c1"], Assert.Single(Schedule(scheduler, "c3", wanted: [0]).Pieces).Parents.Select(p => p.PeerId).Order());
    }

    [Fact]
    public void Schedule_RarestPieceHasNoFreeHolder_AnotherPieceIsAssigned()
    {
        var scheduler = CreateScheduler();
        Register(scheduler, Peer("a", slots: 1));
        Register(scheduler, Peer("b", slots: 1));
        Register(scheduler, Peer("c1"));
        Register(scheduler, Peer("c2"));
        Schedule(scheduler, "a", wanted: [0, 1]);
        ReportOrigin(scheduler, "a", 0, 1);
        Assert.Equal("a", Assert.Single(Schedule(scheduler, "b", wanted: [1]).Pieces).Parents[0].PeerId);
        scheduler.Report(Blob, new PieceReportRequest { PeerId = "b", Results = [new PieceResult { Index = 1, Success = true, ParentId = "a" }] });

        // Piece 0 (one holder) is rarer than piece 1 (two): c1 takes a's only slot for it.
        var first = Assert.Single(Schedule(scheduler, "c1", max: 1, wanted: [0, 1]).Pieces);
        Assert.Equal((0, "a"), (first.Index, first.Parents[0].PeerId));

        // For c2, piece 0 has no holder with a free slot: it gets piece 1 from b instead of waiting on a.
        var answer = Schedule(scheduler, "c2", max: 2, wanted: [0, 1]);

        var second = Assert.Single(answer.Pieces);
        Assert.Equal((1, "b"), (second.Index, second.Parents[0].PeerId));
        Assert.Equal(["b"], second.Parents.Select(p => p.PeerId));
    }

    [Fact]
    public void Schedule_ChildAlreadyFetchingFromAParent_NextPieceGoesToAnotherFreeParent()
    {
        var scheduler = CreateScheduler();
        Register(scheduler, Peer("a", slots: 8));
        Register(scheduler, Peer("b", slots: 4));
        Register(scheduler, Peer("child"));
        Schedule(scheduler, "a");
        ReportOrigin(scheduler, "a", 0, 1, 2, 3);
        scheduler.Report(Blob, new PieceReportRequest { PeerId = "b", BlobVerified = true, Results = [.. Enumerable.Range(0, 4).Select(i => new PieceResult { Index = i, Success = true, Digest = PieceDigest(i) })] });

        // a has more free slots and holds as much, but a child spreads its pieces over parents rather than taking many
        // slots of one.
        var answer = Schedule(scheduler, "child", max: 2);

        Assert.Equal(2, answer.Pieces.Count);
        Assert.Equal(["a", "b"], answer.Pieces.Select(p => p.Parents[0].PeerId).Order());
    }

    [Fact]
    public void Schedule_OriginReadsCappedPerTask_TheRestWaitForThem()
    {
        var scheduler = CreateScheduler(o => o.MaxOriginReadsPerTask = 2);
        Register(scheduler, Peer("a"));
        Register(scheduler, Peer("b"));

        var first = Schedule(scheduler, "a").Pieces;
        Assert.Equal(2, first.Count);
        Assert.All(first, p => Assert.True(p.FromOrigin));
        Assert.Empty(Schedule(scheduler, "b").Pieces);

        int done = first[0].Index;
        ReportOrigin(scheduler, "a", done);
        var answer = Schedule(scheduler, "b");

        Assert.Equal(2, answer.Pieces.Count);
        Assert.Equal("a", answer.Pieces.Single(p => p.Index == done).Parents[0].PeerId);
        Assert.True(answer.Pieces.Single(p => p.Index != done).FromOrigin);
        Assert.Equal(3, scheduler.GetStatistics().PiecesFromOrigin);
    }

    [Fact]
    public void Sweep_LeaseOfASilentChildRunsOut_ParentSlotHandedOutAgain()
    {
        var scheduler = CreateScheduler(o => o.PieceLeaseTimeout = TimeSpan.FromSeconds(1));
        Register(scheduler, Peer("a", slots: 1));
        Register(scheduler, Peer("c1"));
        Register(scheduler, Peer("c2"));
        Schedule(scheduler, "a", wanted: [0]);
        ReportOrigin(scheduler, "a", 0);
        Assert.Equal("a", Assert.Single(Schedule(scheduler, "c1", wanted: [0]).Pieces).Parents[0].PeerId);
        Assert.Empty(Schedule(scheduler, "c2", wanted: [0]).Pieces);

        // c1 stays alive but never reports nor asks again.
        _time.Advance(TimeSpan.FromSeconds(2));
        foreach (string peer in new[] { "a", "c1", "c2" })
        {
            scheduler.Heartbeat(new HeartbeatRequest { Peer = Peer(peer) });
        }

        Assert.Equal(0, scheduler.Sweep());
        Assert.Equal("a", Assert.Single(Schedule(scheduler, "c2", wanted: [0]).Pieces).Parents[0].PeerId);
    }

    [Fact]
    public void Complete_BlobMismatch_DropsPieceRecordsAndBansTheDigestReporters()
    {
        var scheduler = CreateScheduler();
        Register(scheduler, Peer("a"));
        Register(scheduler, Peer("b"));
        Schedule(scheduler, "a");
        ReportOrigin(scheduler, "a", 0, 1, 2, 3);
        Schedule(scheduler, "b");
        scheduler.Report(Blob, new PieceReportRequest { PeerId = "b", Results = [.. Enumerable.Range(0, 4).Select(i => new PieceResult { Index = i, Success = true, ParentId = "a" })] });

        scheduler.Complete(Blob, new TaskCompleteRequest { PeerId = "b", Verified = false });

        Assert.True(scheduler.IsBanned(Blob, "a"));
        Assert.All(Schedule(scheduler, "b").Pieces, p => Assert.True(p.FromOrigin));
        Assert.Equal(1, scheduler.GetStatistics().TasksReset);
    }

    [Fact]
    public void Schedule_PeerWantsAPieceItWasRecordedHolding_ItLostItAndIsNoLongerOffered()
    {
        var scheduler = CreateScheduler();
        Register(scheduler, Peer("a"));
        Register(scheduler, Peer("b"));
        Schedule(scheduler, "a");
        ReportOrigin(scheduler, "a", 0, 1, 2, 3);

        // a evicted piece 2 and asks for it again: nobody else holds it, so a goes back to the registry for it.
        var again = Assert.Single(Schedule(scheduler, "a", wanted: [2]).Pieces);
        Assert.Equal(2, again.Index);
        Assert.True(again.FromOrigin);
        Assert.Empty(Schedule(scheduler, "b", wanted: [2]).Pieces);
        Assert.Equal("a", Schedule(scheduler, "b", wanted: [1]).Pieces[0].Parents[0].PeerId);
    }

    [Fact]
    public void Complete_MismatchAboutDigestsAlreadyDropped_BansNobody()
    {
        var scheduler = CreateScheduler();
        Register(scheduler, Peer("a"));
        Register(scheduler, Peer("b"));
        Register(scheduler, Peer("c"));
        Schedule(scheduler, "a");
        ReportOrigin(scheduler, "a", 0, 1, 2, 3);
        foreach (string child in new[] { "b", "c" })
        {
            Schedule(scheduler, child);
            scheduler.Report(Blob, new PieceReportRequest { PeerId = child, Results = [.. Enumerable.Range(0, 4).Select(i => new PieceResult { Index = i, Success = true, ParentId = "a" })] });
        }

        scheduler.Complete(Blob, new TaskCompleteRequest { PeerId = "b", Verified = false });
        // b sends c's pieces back to the registry through b; d records the new digests.
        Register(scheduler, Peer("d"));
        Assert.All(Schedule(scheduler, "d").Pieces, p => Assert.True(p.FromOrigin));
        ReportOrigin(scheduler, "d", 0, 1, 2, 3);

        scheduler.Complete(Blob, new TaskCompleteRequest { PeerId = "c", Verified = false });

        Assert.True(scheduler.IsBanned(Blob, "a"));
        Assert.False(scheduler.IsBanned(Blob, "d"));
        Assert.Equal(1, scheduler.GetStatistics().TasksReset);
        Assert.Equal("d", Schedule(scheduler, "c", wanted: [0]).Pieces[0].Parents[0].PeerId);
    }

    [Fact]
    public void Schedule_BannedPeer_NeverSentToTheRegistryAndItsDigestsRefused()
    {
        var scheduler = CreateScheduler();
        Register(scheduler, Peer("a"));
        Register(scheduler, Peer("b"));
        Schedule(scheduler, "a");
        ReportOrigin(scheduler, "a", 0, 1, 2, 3);
        Schedule(scheduler, "b");
        scheduler.Report(Blob, new PieceReportRequest { PeerId = "b", Results = [.. Enumerable.Range(0, 4).Select(i => new PieceResult { Index = i, Success = true, ParentId = "a" })] });
        scheduler.Complete(Blob, new TaskCompleteRequest { PeerId = "b", Verified = false });

        Assert.Empty(Schedule(scheduler, "a").Pieces);
        scheduler.Report(Blob, new PieceReportRequest { PeerId = "a", BlobVerified = true, Results = [new PieceResult { Index = 0, Success = true, Digest = PieceDigest(0) }] });
        Assert.True(Assert.Single(Schedule(scheduler, "b", wanted: [0]).Pieces).FromOrigin);
    }

    [Fact]
    public void Complete_VerifiedWithoutEveryPiece_Throws()
    {
        var scheduler = CreateScheduler();
        Register(scheduler, Peer("a"));
        Assert.Throws<P2PProtocolException>(() => scheduler.Complete(Blob, new TaskCompleteRequest { PeerId = "a", Verified = true }));
    }

    [Fact]
    public void Heartbeat_SeedPeer_ReceivesQueuedPreheatOnce()
    {
        var scheduler = CreateScheduler();
        scheduler.Heartbeat(new HeartbeatRequest { Peer = Peer("seed", seed: true) });
        scheduler.Heartbeat(new HeartbeatRequest { Peer = Peer("plain") });
        var blob = new BlobRef { Registry = "r.example", Repository = "a/b", Digest = Blob.Value, Size = 10 };

        Assert.Equal(1, scheduler.EnqueuePreheat([blob]));
        Assert.Empty(scheduler.Heartbeat(new HeartbeatRequest { Peer = Peer("plain") }).Preheat);
        Assert.Equal(blob, Assert.Single(scheduler.Heartbeat(new HeartbeatRequest { Peer = Peer("seed", seed: true) }).Preheat));
        Assert.Empty(scheduler.Heartbeat(new HeartbeatRequest { Peer = Peer("seed", seed: true) }).Preheat);
    }

    [Fact]
    public void Schedule_TenThousandPeers_StaysBoundedPerCall()
    {
        // Simulation scale: every peer joins one task; holders are sampled, so a call costs O(sample), not O(peers).
        var scheduler = CreateScheduler(o => o.CandidateSample = 16);
        for (int i = 0; i < 10_000; i++)
        {
            Register(scheduler, Peer($"p{i}"), size: PieceSize);
        }

        Schedule(scheduler, "p0");
        ReportOrigin(scheduler, "p0", 0);
        for (int i = 1; i < 10_000; i++)
        {
            var piece = Assert.Single(Schedule(scheduler, $"p{i}").Pieces);
            scheduler.Report(Blob, new PieceReportRequest { PeerId = $"p{i}", Results = [new PieceResult { Index = 0, Success = true, ParentId = piece.Parents[0].PeerId }] });
        }

        Assert.Equal(1, scheduler.GetStatistics().PiecesFromOrigin);
        Assert.Equal(9_999, scheduler.GetStatistics().PiecesFromParents);
    }

    [Fact]
    public void RegisterTask_TokensExpire_ExpiryWithinTheLifetimeAndSameTokenForTheEpoch()
    {
        var scheduler = CreateScheduler(o => o.TokenLifetime = TimeSpan.FromHours(1));
        var a = Register(scheduler, Peer("a"));
        _time.Advance(TimeSpan.FromMinutes(1));
        var b = Register(scheduler, Peer("b"));

        Assert.InRange(a.TokenExpiresInMs, (int)TimeSpan.FromMinutes(30).TotalMilliseconds, (int)TimeSpan.FromHours(1).TotalMilliseconds);
        Assert.Equal(a.TokenExpiresInMs - 60_000, b.TokenExpiresInMs);
        Assert.Equal(a.Token, b.Token);
        Assert.Equal(a.Token, scheduler.GetToken("r.example", Blob));

        // A new epoch: a new token, and the old one runs out at the end of it.
        _time.Advance(TimeSpan.FromMilliseconds(b.TokenExpiresInMs - TimeSpan.FromMinutes(30).TotalMilliseconds));
        Assert.NotEqual(a.Token, scheduler.GetToken("r.example", Blob));
        var c = Register(scheduler, Peer("c"));
        Assert.Equal((int)TimeSpan.FromHours(1).TotalMilliseconds, c.TokenExpiresInMs);
    }

    [Fact]
    public void Schedule_TokenEpochChanged_RenewedOnceThroughScheduleAndHeartbeat()
    {
        var scheduler = CreateScheduler(o => { o.TokenLifetime = TimeSpan.FromMinutes(10); o.PeerTtl = TimeSpan.FromHours(1); });
        var first = Register(scheduler, Peer("a"));
        Register(scheduler, Peer("b"));
        Assert.Null(Schedule(scheduler, "a").Token);
        Assert.Empty(scheduler.Heartbeat(new HeartbeatRequest { Peer = Peer("b") }).Tokens);

        _time.Advance(TimeSpan.FromMilliseconds(first.TokenExpiresInMs - 1000));

        // Both still hold a valid token (one second left); each is handed the new one once, by whichever call comes first.
        var renewed = Schedule(scheduler, "a").Token;
        Assert.NotNull(renewed);
        Assert.Equal(Blob.Value, renewed.TaskId);
        Assert.Equal(scheduler.GetToken("r.example", Blob), renewed.Token);
        Assert.NotEqual(first.Token, renewed.Token);
        Assert.InRange(renewed.ExpiresInMs, (int)TimeSpan.FromMinutes(5).TotalMilliseconds, (int)TimeSpan.FromMinutes(10).TotalMilliseconds);
        Assert.Null(Schedule(scheduler, "a").Token);
        Assert.Empty(scheduler.Heartbeat(new HeartbeatRequest { Peer = Peer("a") }).Tokens);

        var viaHeartbeat = Assert.Single(scheduler.Heartbeat(new HeartbeatRequest { Peer = Peer("b") }).Tokens);
        Assert.Equal(renewed, viaHeartbeat with { ExpiresInMs = renewed.ExpiresInMs });
        Assert.Empty(scheduler.Heartbeat(new HeartbeatRequest { Peer = Peer("b") }).Tokens);
        Assert.Equal(2, scheduler.GetStatistics().TokensRenewed);
    }

    [Fact]
    public void RegisterTask_TokenLifetimeZero_VersionOneTokenThatNeverExpires()
    {
        var key = new byte[16];
        var scheduler = CreateScheduler(o => { o.TokenLifetime = TimeSpan.Zero; o.TokenKey = key; o.PeerTtl = TimeSpan.FromHours(1); });
        var answer = Register(scheduler, Peer("a"));
        _time.Advance(TimeSpan.FromMinutes(59));

        byte[] mac = System.Security.Cryptography.HMACSHA256.HashData(key, System.Text.Encoding.UTF8.GetBytes("accel-p2p-task2\0r.example\0" + Blob.Value));
        Assert.Equal(Convert.ToBase64String(mac).TrimEnd('=').Replace('+', '-').Replace('/', '_'), answer.Token);
        Assert.Equal(0, answer.TokenExpiresInMs);
        Assert.Equal(answer.Token, scheduler.GetToken("r.example", Blob));
        Assert.Null(Schedule(scheduler, "a").Token);
        Assert.Empty(scheduler.Heartbeat(new HeartbeatRequest { Peer = Peer("a") }).Tokens);
    }

    [Fact]
    public void Report_EvictedPieces_NoLongerOfferedAndTheir404IsNoStrike()
    {
        var scheduler = CreateScheduler(o => o.FailuresBeforeBan = 1);
        Register(scheduler, Peer("a"));
        Register(scheduler, Peer("b"));
        Register(scheduler, Peer("c"));
        Schedule(scheduler, "a");
        ReportOrigin(scheduler, "a", 0, 1, 2, 3);
        scheduler.Report(Blob, new PieceReportRequest { PeerId = "b", BlobVerified = true, Results = [.. Enumerable.Range(0, 4).Select(i => new PieceResult { Index = i, Success = true, Digest = PieceDigest(i) })] });
        var sentToA = Schedule(scheduler, "c", max: 4).Pieces.Where(p => p.Parents[0].PeerId == "a").Select(p => p.Index).ToList();
        Assert.NotEmpty(sentToA);

        // a evicts every piece; the children it already had get 404s (Refused), which do not ban it.
        scheduler.Report(Blob, new PieceReportRequest { PeerId = "a", Results = [], Evicted = [0, 1, 2, 3] });
        scheduler.Report(Blob, new PieceReportRequest { PeerId = "c", Results = [.. sentToA.Select(i => new PieceResult { Index = i, ParentId = "a", Failure = PieceFailure.Refused })] });

        Assert.False(scheduler.IsBanned(Blob, "a"));
        Assert.Equal(4, scheduler.GetStatistics().PiecesEvicted);
        var again = Schedule(scheduler, "c", max: 4, wanted: sentToA).Pieces;
        Assert.Equal(sentToA.Count, again.Count);
        Assert.All(again, p => Assert.Equal(["b"], p.Parents.Select(r => r.PeerId)));
        Assert.Throws<P2PProtocolException>(() => scheduler.Report(Blob, new PieceReportRequest { PeerId = "a", Results = [], Evicted = [4] }));

        // A refusal for a piece the parent is still recorded holding is still a strike.
        scheduler.Report(Blob, new PieceReportRequest { PeerId = "c", Results = [new PieceResult { Index = again[0].Index, ParentId = "b", Failure = PieceFailure.Refused }] });
        Assert.True(scheduler.IsBanned(Blob, "b"));
    }

    [Fact]
    public void Options_Invalid_Refused()
    {
        Assert.Throws<System.ComponentModel.DataAnnotations.ValidationException>(() => new P2PScheduler(new P2PSchedulerOptions { PieceSize = 1000 }));
        Assert.Throws<System.ComponentModel.DataAnnotations.ValidationException>(() => new P2PScheduler(new P2PSchedulerOptions { TokenKey = new byte[8] }));
        Assert.Throws<System.ComponentModel.DataAnnotations.ValidationException>(() => new P2PScheduler(new P2PSchedulerOptions { PeerTtl = TimeSpan.FromSeconds(1), HeartbeatInterval = TimeSpan.FromSeconds(2) }));
        Assert.Throws<System.ComponentModel.DataAnnotations.ValidationException>(() => new P2PScheduler(new P2PSchedulerOptions { TokenLifetime = TimeSpan.FromSeconds(7) }));
        Assert.Throws<System.ComponentModel.DataAnnotations.ValidationException>(() => new P2PScheduler(new P2PSchedulerOptions { TokenLifetime = TimeSpan.FromDays(8) }));
        Assert.Throws<System.ComponentModel.DataAnnotations.ValidationException>(() => new P2PScheduler(new P2PSchedulerOptions { MaxOriginReadsPerTask = 0 }));
    }
}

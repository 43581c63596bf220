using System.Buffers;
using Accelerator.P2P.Protocol;
using Microsoft.Extensions.Logging;

namespace Accelerator.P2P.Peers;

/// <summary>
/// What the peer tells its schedulers about pieces: which it holds (after registering, vouched for when the whole blob
/// verifies), the outcome of each fetch, pieces granted but not used, a blob completed (or found corrupt, which drops
/// its pieces here), and pieces that left the store.
/// </summary>
internal sealed class PieceReporter(SchedulerRegistration registration, PieceStore store, PeerCounters counters, ILogger logger, Func<string> peerId, CancellationToken stopping)
{
    private readonly SchedulerRegistration _registration = registration;
    private readonly PieceStore _store = store;
    private readonly PeerCounters _counters = counters;
    private readonly ILogger _logger = logger;
    private readonly CancellationToken _stopping = stopping;

    private string PeerId => peerId();

    /// <summary>
    /// Tells a (new) scheduler which pieces of the task this peer already stores, e.g. after a restart. When every
    /// piece is here and the blob checks out against its digest, the piece digests are vouched for (BlobVerified).
    /// </summary>
    public async Task AnnounceHeldAsync(TaskSession session, CancellationToken cancellationToken)
    {
        var held = _store.List(session.Task, session.PieceSize);
        if (held.Count == 0)
        {
            return;
        }

        bool verified = held.Count == session.PieceCount && HashBlob(session);
        try
        {
            await AnnounceAsync(session, held, verified, cancellationToken).ConfigureAwait(false);
        }
        catch (SessionChangedException)
        {
            // Announcing is an optimisation: the next call on the task registers again.
        }
    }

    public async Task AnnounceAsync(TaskSession session, IReadOnlyList<(int Index, Digest Digest)> held, bool verified, CancellationToken cancellationToken)
    {
        foreach (var batch in held.Chunk(P2PProtocol.MaxResultsPerReport))
        {
            var results = batch.Select(p => new PieceResult { Index = p.Index, Success = true, Digest = p.Digest.Value }).ToArray();
            await _registration.CallSchedulerAsync(session, s => _registration.Client.PostAsync<PieceReportRequest, SchedulerClient.NoContent>(
                s.Scheduler, P2PProtocol.TaskPath(s.Task, "reports"), new PieceReportRequest { PeerId = PeerId, Results = results, BlobVerified = verified }, cancellationToken)).ConfigureAwait(false);
        }
    }
    /// <summary>Waits for an abandoned schedule request and gives back (unused) whatever pieces it was granted.</summary>
    public async Task ReleaseAsync(TaskSession session, Task<ScheduleResponse> pending)
    {
        ScheduleResponse answer;
        try
        {
            answer = await pending.ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is OperationCanceledException or SessionChangedException or SchedulerRejectedException or ObjectDisposedException)
        {
            return;
        }

        await ReportQuietlyAsync(session, [.. answer.Pieces.Select(p => new PieceResult { Index = p.Index, Failure = PieceFailure.Unreachable })]).ConfigureAwait(false);
    }

    /// <summary>Reports outcomes on a short timeout of its own, ignoring failures (used when the read is ending anyway).</summary>
    public async Task ReportQuietlyAsync(TaskSession session, List<PieceResult> results)
    {
        if (results.Count == 0 || _stopping.IsCancellationRequested)
        {
            return;
        }

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
        try
        {
            await ReportAsync(session, results, timeout.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is SessionChangedException or SchedulerRejectedException or OperationCanceledException or ObjectDisposedException)
        {
        }
    }

    public async Task ReportAsync(TaskSession session, IReadOnlyList<PieceResult> results, CancellationToken cancellationToken)
        => await _registration.CallSchedulerAsync(session, s => _registration.Client.PostAsync<PieceReportRequest, SchedulerClient.NoContent>(
            s.Scheduler, P2PProtocol.TaskPath(s.Task, "reports"), new PieceReportRequest { PeerId = PeerId, Results = results }, cancellationToken)).ConfigureAwait(false);
    /// <summary>
    /// Verifies the blob digest computed while streaming and tells the scheduler: a verified peer vouches for its piece
    /// digests (so a scheduler that lost them, after a failover, learns them) and reports complete; a blob that fails loses
    /// its pieces here and resets the task at the scheduler (which bans the back-to-source peer that lied).
    /// </summary>
    public async Task CompleteBlobAsync(TaskSession session, bool verified, CancellationToken cancellationToken)
    {
        if (verified)
        {
            Interlocked.Increment(ref _counters.BlobsCompleted);
        }
        else
        {
            Interlocked.Increment(ref _counters.BlobsCorrupt);
            PeerLog.BlobCorrupt(_logger, session.Task);
            _store.DeleteTask(session.Task, session.PieceSize);
        }

        try
        {
            if (verified)
            {
                await AnnounceAsync(session, _store.List(session.Task, session.PieceSize), verified: true, cancellationToken).ConfigureAwait(false);
            }

            await _registration.CallSchedulerAsync(session, s => _registration.Client.PostAsync<TaskCompleteRequest, SchedulerClient.NoContent>(
                s.Scheduler, P2PProtocol.TaskPath(s.Task, "complete"), new TaskCompleteRequest { PeerId = PeerId, Verified = verified }, cancellationToken)).ConfigureAwait(false);
        }
        catch (SessionChangedException)
        {
            // The blob is here and verified (or not) either way; the next registration announces what is held.
        }
        catch (SchedulerRejectedException ex)
        {
            PeerLog.SchedulerUnavailable(_logger, session.Scheduler, ex.Message);
        }

        if (!verified)
        {
            _registration.Sessions.TryRemove(new KeyValuePair<Digest, TaskSession>(session.Task, session));
        }
    }
    /// <summary>
    /// Tells each task's scheduler which pieces left the store since the last round (evicted, found corrupt), so it stops
    /// sending children here for them. Best effort: a piece announced late only costs a child a 404 and a reschedule.
    /// </summary>
    public async Task AnnounceRemovedAsync(CancellationToken cancellationToken)
    {
        foreach (var group in _store.TakeRemoved().GroupBy(p => (p.Task, p.PieceSize)))
        {
            if (!_registration.Sessions.TryGetValue(group.Key.Task, out var session) || session.PieceSize != group.Key.PieceSize)
            {
                continue;
            }

            // A piece stored again meanwhile is held after all.
            var gone = group.Select(p => p.Index).Where(i => i < session.PieceCount && !_store.Contains(session.Task, session.PieceSize, i)).Distinct();
            foreach (var batch in gone.Chunk(P2PProtocol.MaxResultsPerReport))
            {
                try
                {
                    await _registration.Client.PostAsync<PieceReportRequest, SchedulerClient.NoContent>(
                        session.Scheduler, P2PProtocol.TaskPath(session.Task, "reports"), new PieceReportRequest { PeerId = PeerId, Results = [], Evicted = batch }, cancellationToken).ConfigureAwait(false);
                    Interlocked.Add(ref _counters.EvictionsAnnounced, batch.Length);
                }
                catch (Exception ex) when (ex is SchedulerUnavailableException or SchedulerRejectedException)
                {
                    PeerLog.SchedulerUnavailable(_logger, session.Scheduler, ex.Message);
                    break;
                }
            }
        }
    }
    /// <summary>Hashes the stored pieces in order (each re-checked against its own digest) against the blob digest.</summary>
    private bool HashBlob(TaskSession session)
    {
        using var hasher = session.Task.CreateHasher();
        byte[] buffer = ArrayPool<byte>.Shared.Rent(Math.Max(1, session.PieceSize));
        try
        {
            for (int i = 0; i < session.PieceCount; i++)
            {
                int n = _store.Read(session.Task, session.PieceSize, i, buffer);
                if (n != session.PieceLength(i))
                {
                    return false;
                }

                hasher.AppendData(buffer, 0, n);
            }

            return Digest.FromHash(session.Task.Algorithm, hasher.GetHashAndReset()) == session.Task;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}

using Accelerator.P2P.Protocol;

namespace Accelerator.P2P.Peers;

public sealed partial class P2PPeer
{
    /// <summary>Takes the renewed task tokens a scheduler sent with a heartbeat answer, for the tasks it schedules for this peer.</summary>
    private void RenewTokens(Uri scheduler, IReadOnlyList<TaskToken> tokens)
    {
        foreach (var token in tokens)
        {
            if (Digest.TryParse(token.TaskId, out var task) && _sessions.TryGetValue(task, out var session) && session.Scheduler == scheduler)
            {
                session.Tokens.Add(token.Token, token.ExpiresInMs);
            }
        }
    }

    /// <summary>
    /// Tells each task's scheduler which pieces left the store since the last round (evicted, found corrupt), so it stops
    /// sending children here for them. Best effort: a piece announced late only costs a child a 404 and a reschedule.
    /// </summary>
    private async Task AnnounceRemovedAsync(CancellationToken cancellationToken)
    {
        foreach (var group in _store.TakeRemoved().GroupBy(p => (p.Task, p.PieceSize)))
        {
            if (!_sessions.TryGetValue(group.Key.Task, out var session) || session.PieceSize != group.Key.PieceSize)
            {
                continue;
            }

            // A piece stored again meanwhile is held after all.
            var gone = group.Select(p => p.Index).Where(i => i < session.PieceCount && !_store.Contains(session.Task, session.PieceSize, i)).Distinct();
            foreach (var batch in gone.Chunk(P2PProtocol.MaxResultsPerReport))
            {
                try
                {
                    await _schedulers.PostAsync<PieceReportRequest, SchedulerClient.NoContent>(
                        session.Scheduler, P2PProtocol.TaskPath(session.Task, "reports"), new PieceReportRequest { PeerId = PeerId, Results = [], Evicted = batch }, cancellationToken).ConfigureAwait(false);
                    Interlocked.Add(ref _counters.EvictionsAnnounced, batch.Length);
                }
                catch (Exception ex) when (ex is SchedulerUnavailableException or SchedulerRejectedException)
                {
                    Log.SchedulerUnavailable(_logger, session.Scheduler, ex.Message);
                    break;
                }
            }
        }
    }
}

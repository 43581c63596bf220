using System.Collections.Concurrent;
using Accelerator.P2P.Protocol;

namespace Accelerator.P2P.Scheduling;

/// <summary>
/// Long-polled scheduling: a schedule request with <see cref="ScheduleRequest.WaitMs"/> that gets no piece now waits here
/// until something about its task changes (a report or completion arrives, a peer leaves) or the wait ends, instead of
/// the peer asking again every <c>retryAfterMs</c>. A slow re-check catches what changes with time alone (leases expiring).
/// </summary>
public sealed partial class P2PSchedulerService
{
    private const int MaxTaskSignals = 100_000;
    private static readonly TimeSpan Recheck = TimeSpan.FromMilliseconds(500);
    private readonly ConcurrentDictionary<Digest, AsyncPulse> _taskChanges = new();
    private long _longPolls;

    private async Task<ScheduleResponse> ScheduleAsync(Digest task, ScheduleRequest request, CancellationToken cancellationToken)
    {
        int waitMs = Math.Clamp(request.WaitMs, 0, P2PProtocol.MaxScheduleWaitMs);
        if (waitMs == 0)
        {
            return Scheduler.Schedule(task, request);
        }

        Interlocked.Increment(ref _longPolls);
        var signal = SignalFor(task);
        long started = _time.GetTimestamp();
        var wait = TimeSpan.FromMilliseconds(waitMs);
        while (true)
        {
            // Snapshot before deciding: a change between the decision and the wait still wakes this request.
            var changed = signal.Next;
            var answer = Scheduler.Schedule(task, request);
            var left = wait - _time.GetElapsedTime(started);
            if (answer.Pieces.Count > 0 || left <= TimeSpan.Zero)
            {
                return answer with { LongPolled = true };
            }

            try
            {
                await changed.WaitAsync(left < Recheck ? left : Recheck, _time, cancellationToken).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                // Nothing reported meanwhile: decide again (a lease may have expired).
            }
        }
    }

    /// <summary>Wakes the long polls waiting on a task.</summary>
    private void TaskChanged(Digest task)
    {
        if (_taskChanges.TryGetValue(task, out var signal))
        {
            signal.Pulse();
        }
    }

    /// <summary>Wakes every long poll (a peer left: its leases on any task are free).</summary>
    private void AllTasksChanged()
    {
        foreach (var signal in _taskChanges.Values)
        {
            signal.Pulse();
        }
    }

    private AsyncPulse SignalFor(Digest task)
    {
        if (_taskChanges.Count >= MaxTaskSignals)
        {
            // Bounded: waiters keep the signal they hold and fall back to the periodic re-check.
            AllTasksChanged();
            _taskChanges.Clear();
        }

        return _taskChanges.GetOrAdd(task, static _ => new AsyncPulse());
    }
}

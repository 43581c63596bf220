namespace Accelerator.Replication;

public sealed partial class ReplicationService
{
    /// <summary>
    /// Takes due entries from the queue and replicates up to <see cref="ReplicationServiceOptions.MaxConcurrentReplications"/>
    /// at once; sleeps until an event arrives, a run ends, or the next retry is due.
    /// </summary>
    private async Task RunWorkersAsync(CancellationToken stopping)
    {
        var running = new List<Task>();
        while (!stopping.IsCancellationRequested)
        {
            // Take the wake-up signal before looking at the queue, so an event queued right after the look still wakes us.
            var wake = Volatile.Read(ref _wake).Task;
            DateTimeOffset? nextDue = null;
            while (running.Count < _options.MaxConcurrentReplications && _queue.TryTake(out var item, out nextDue))
            {
                running.Add(ReplicateAsync(item, stopping));
            }

            using var sleep = CancellationTokenSource.CreateLinkedTokenSource(stopping);
            var waits = new List<Task>(running) { wake };
            if (nextDue is { } due && running.Count < _options.MaxConcurrentReplications)
            {
                var delay = due - _time.GetUtcNow();
                waits.Add(Task.Delay(delay > TimeSpan.Zero ? delay : TimeSpan.Zero, _time, sleep.Token));
            }

            waits.Add(Task.Delay(Timeout.InfiniteTimeSpan, sleep.Token));
            await Task.WhenAny(waits).ConfigureAwait(false);
            await sleep.CancelAsync().ConfigureAwait(false);
            running.RemoveAll(t => t.IsCompleted);
        }

        await Task.WhenAll(running).ConfigureAwait(false);
    }

    private async Task ReplicateAsync(QueuedReplication item, CancellationToken stopping)
    {
        await Task.Yield();
        string? error;
        try
        {
            // docker-registry notifies a manifest push just before it links the tag, so a fresh event may name a tag the
            // source does not show yet, or still shows at its previous digest: look again shortly (not a failure). Past
            // the grace period, the tag's current state is what counts (gone is gone; moved is copied as it is now).
            var sinceEvent = _time.GetUtcNow() - item.Received;
            bool fresh = sinceEvent < _options.TagGracePeriod;
            var results = await _replicator.ReplicateTagAsync(item.Source, item.Repository, item.Tag, fresh ? item.Digest : null, stopping).ConfigureAwait(false);
            if (fresh && results.Any(r => r.Status is ReplicationStatus.Gone or ReplicationStatus.Moved))
            {
                var wait = TimeSpan.FromTicks(Math.Clamp(sinceEvent.Ticks / 2, TimeSpan.FromMilliseconds(50).Ticks, TimeSpan.FromSeconds(5).Ticks));
                LogTagNotYetVisible(item.Source, item.Repository, item.Tag, wait.TotalMilliseconds);
                _queue.Release(item, _time.GetUtcNow() + wait, null);
                Wake();
                return;
            }

            var failed = results.Where(r => r.Status == ReplicationStatus.Failed).ToList();
            error = failed.Count == 0 ? null : string.Join("; ", failed.Select(f => $"{f.Target}: {f.Error}"));
            if (error is null)
            {
                _queue.Complete(item);
                Interlocked.Increment(ref _replicated);
                var latency = _time.GetUtcNow() - item.Received;
                LogReplicated(item.Source, item.Repository, item.Tag, results.FirstOrDefault()?.Digest?.ToString() ?? "-", string.Join(", ", results.Select(r => $"{r.Target} {r.Status.ToString().ToLowerInvariant()}")), latency.TotalMilliseconds);
                return;
            }
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
            // Shutting down: the entry stays on disk, due again at the next start.
            _queue.Release(item, item.NotBefore, null);
            return;
        }
        catch (Exception ex)
        {
            error = ex.Message;
        }

        int attempt = item.Attempts + 1;
        var delay = RetryBackoff.Delay(attempt, _options.RetryBaseDelay, _options.RetryMaxDelay, Random.Shared.NextDouble());
        Interlocked.Increment(ref _failures);
        LogRetrying(item.Source, item.Repository, item.Tag, attempt, delay.TotalSeconds, error);
        try
        {
            _queue.Release(item, _time.GetUtcNow() + delay, error);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // The entry is still on disk with its previous attempt count; only the backoff state was not saved.
            LogQueueWriteFailed(ex.Message);
        }

        Wake();
    }
}

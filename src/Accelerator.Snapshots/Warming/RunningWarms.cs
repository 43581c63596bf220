using System.Collections.Concurrent;

namespace Accelerator.Snapshots.Warming;

/// <summary>
/// The warms running in this process, one per manifest digest: a second warm of the same image joins the first
/// instead of pulling again (the image lock does the same across processes). Each warmer kind keeps its own, so a
/// warm of one kind never hands its result to the other.
/// </summary>
internal sealed class RunningWarms
{
    private readonly ConcurrentDictionary<Digest, Task<SnapshotWarmResult>> _running = new();

    /// <summary>The warm of <paramref name="manifestDigest"/> running in this process, if any.</summary>
    public bool TryGet(Digest manifestDigest, out Task<SnapshotWarmResult> running) => _running.TryGetValue(manifestDigest, out running!);

    /// <summary>
    /// Joins the warm of <paramref name="manifestDigest"/> running here, or starts <paramref name="warm"/>; the warm
    /// itself is not cancelled when this caller gives up (others may be waiting on it).
    /// </summary>
    public async Task<SnapshotWarmResult> JoinOrStartAsync(Digest manifestDigest, Func<Task<SnapshotWarmResult>> warm, CancellationToken cancellationToken)
    {
        var task = _running.GetOrAdd(manifestDigest, _ => Task.Run(warm, CancellationToken.None));
        try
        {
            return await task.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            if (task.IsCompleted)
            {
                _running.TryRemove(new KeyValuePair<Digest, Task<SnapshotWarmResult>>(manifestDigest, task));
            }
        }
    }
}

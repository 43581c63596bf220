namespace Accelerator.P2P.Protocol;

/// <summary>
/// A signal waiters can await without missing a pulse: take <see cref="Next"/> before checking the condition, then await
/// it; any <see cref="Pulse"/> after the snapshot completes it.
/// </summary>
internal sealed class AsyncPulse
{
    private TaskCompletionSource _next = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Completes at the next <see cref="Pulse"/>.</summary>
    public Task Next => Volatile.Read(ref _next).Task;

    /// <summary>Wakes every waiter holding the current <see cref="Next"/>.</summary>
    public void Pulse()
        => Interlocked.Exchange(ref _next, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
}

namespace Accelerator.Lazy.Reading;

/// <summary>
/// Admission for ranged requests in two pools: foreground (readers) and background (prefetch), each with its own
/// limit. A background request starts only while no foreground request is waiting, so prefetch never delays a reader's
/// request; when a foreground slot frees, the longest-waiting reader gets it.
/// </summary>
internal sealed class FetchGate(int foregroundLimit, int backgroundLimit)
{
    private readonly object _sync = new();
    private readonly Queue<TaskCompletionSource> _foreground = new();
    private readonly Queue<TaskCompletionSource> _background = new();
    private int _foregroundActive;
    private int _backgroundActive;

    /// <summary>Foreground requests waiting for a slot.</summary>
    public int ForegroundWaiting
    {
        get
        {
            lock (_sync)
            {
                return _foreground.Count(w => !w.Task.IsCompleted);
            }
        }
    }

    /// <summary>Waits for a slot; dispose the result to release it.</summary>
    public async ValueTask<Slot> EnterAsync(bool background, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        TaskCompletionSource waiter;
        lock (_sync)
        {
            if (background ? CanStartBackground() : _foregroundActive < foregroundLimit)
            {
                Take(background);
                return new Slot(this, background);
            }

            waiter = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            (background ? _background : _foreground).Enqueue(waiter);
        }

        // A waiter canceled before it is granted stays in its queue until a release skips it (TrySetResult fails).
        using (cancellationToken.Register(() => waiter.TrySetCanceled(cancellationToken)))
        {
            await waiter.Task.ConfigureAwait(false);
        }

        return new Slot(this, background);
    }

    private bool CanStartBackground() => _backgroundActive < backgroundLimit && !_foreground.Any(w => !w.Task.IsCompleted);

    private void Take(bool background)
    {
        if (background)
        {
            _backgroundActive++;
        }
        else
        {
            _foregroundActive++;
        }
    }

    private void Release(bool background)
    {
        lock (_sync)
        {
            ReleaseLocked(background);
        }
    }

    private void ReleaseLocked(bool background)
    {
        if (background)
        {
            _backgroundActive--;
        }
        else
        {
            _foregroundActive--;
        }

        while (_foregroundActive < foregroundLimit && _foreground.TryDequeue(out TaskCompletionSource? next))
        {
            // A waiter canceled meanwhile is skipped: TrySetResult fails on it.
            _foregroundActive++;
            if (!next.TrySetResult())
            {
                _foregroundActive--;
            }
        }

        while (CanStartBackground() && _background.TryDequeue(out TaskCompletionSource? next))
        {
            _backgroundActive++;
            if (!next.TrySetResult())
            {
                _backgroundActive--;
            }
        }
    }

    /// <summary>A held slot.</summary>
    public readonly struct Slot(FetchGate gate, bool background) : IDisposable
    {
        /// <summary>Releases the slot.</summary>
        public void Dispose() => gate?.Release(background);
    }
}

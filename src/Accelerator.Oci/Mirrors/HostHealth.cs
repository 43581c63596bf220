namespace Accelerator.Oci.Mirrors;

/// <summary>
/// A circuit breaker per host: after <c>threshold</c> consecutive failures the host is left alone for a backoff period
/// that doubles with each further failure (up to a maximum); once the period has passed it is tried again, and one
/// success closes it.
/// </summary>
internal sealed class HostHealth(TimeProvider time, int threshold, TimeSpan minimumBackoff, TimeSpan maximumBackoff)
{
    private readonly Lock _lock = new();
    private int _failures;
    private DateTimeOffset _openUntil = DateTimeOffset.MinValue;

    /// <summary>Failures since the last success.</summary>
    public int ConsecutiveFailures
    {
        get
        {
            lock (_lock)
            {
                return _failures;
            }
        }
    }

    /// <summary>Until when the host is left alone, or null when it may be used.</summary>
    public DateTimeOffset? OpenUntil
    {
        get
        {
            lock (_lock)
            {
                return _openUntil > time.GetUtcNow() ? _openUntil : null;
            }
        }
    }

    /// <summary>Whether the host may be used now (closed, or its backoff has passed).</summary>
    public bool IsAvailable => OpenUntil is null;

    /// <summary>Records a success; returns whether the host had been failing.</summary>
    public bool RecordSuccess()
    {
        lock (_lock)
        {
            bool wasFailing = _failures >= threshold;
            _failures = 0;
            _openUntil = DateTimeOffset.MinValue;
            return wasFailing;
        }
    }

    /// <summary>Records a failure; returns the backoff when this failure opened (or reopened) the host.</summary>
    public TimeSpan? RecordFailure()
    {
        lock (_lock)
        {
            _failures++;
            if (_failures < threshold)
            {
                return null;
            }

            double ticks = minimumBackoff.Ticks * Math.Pow(2, Math.Min(_failures - threshold, 62));
            var backoff = ticks >= maximumBackoff.Ticks ? maximumBackoff : TimeSpan.FromTicks((long)ticks);

            _openUntil = time.GetUtcNow() + backoff;
            return backoff;
        }
    }
}

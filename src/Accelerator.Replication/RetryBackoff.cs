namespace Accelerator.Replication;

/// <summary>Exponential backoff with jitter for the replication queue's retries.</summary>
internal static class RetryBackoff
{
    /// <summary>
    /// The wait after failed attempt number <paramref name="attempt"/> (1 for the first): <paramref name="baseDelay"/>
    /// doubled per further attempt, times a jitter factor in [0.8, 1.2) from <paramref name="jitter"/> (a sample in
    /// [0, 1)), never more than <paramref name="maxDelay"/>.
    /// </summary>
    public static TimeSpan Delay(int attempt, TimeSpan baseDelay, TimeSpan maxDelay, double jitter)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(attempt, 1);
        double exponential = baseDelay.TotalMilliseconds * Math.Pow(2, Math.Min(attempt - 1, 30));
        double jittered = Math.Min(exponential, maxDelay.TotalMilliseconds) * (0.8 + (0.4 * Math.Clamp(jitter, 0, 1)));
        return TimeSpan.FromMilliseconds(Math.Min(jittered, maxDelay.TotalMilliseconds));
    }
}

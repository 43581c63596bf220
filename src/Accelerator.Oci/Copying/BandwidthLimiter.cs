namespace Accelerator.Oci.Copying;

/// <summary>
/// Caps the total rate of byte streams (a token bucket on <see cref="TimeProvider"/>), shared by every stream it
/// throttles: the sum of their rates stays at <see cref="BytesPerSecond"/>. A caller takes the bytes it has just moved
/// and waits until the bucket would be back at zero, so the bucket may go into debt: waiting is proportional to what
/// was taken. The bucket starts empty, so a transfer of N bytes takes N / rate; time a caller spends elsewhere (a
/// chunked upload sending the chunk it read, a timer oversleeping) refills the bucket up to <see cref="BurstBytes"/>,
/// which the next reads use at once, so such pauses do not lower the long-run rate. A limiter that starts full lets a
/// first burst through unshaped (a P2P peer's uploads).
/// </summary>
/// <remarks>
/// System.Threading.RateLimiting's <c>TokenBucketRateLimiter</c> was not used: it replenishes on a wall-clock timer
/// with no <see cref="TimeProvider"/> (dotnet/runtime#106447), so its accounting cannot be tested on a fake clock,
/// and its period granularity adds error at high byte rates.
/// </remarks>
public sealed class BandwidthLimiter
{
    private readonly TimeProvider _time;
    private readonly object _lock = new();
    private readonly double _ticksPerSecond;
    private double _tokens;
    private long _last;
    private long _total;

    /// <summary>
    /// Creates a limiter of <paramref name="bytesPerSecond"/>. <paramref name="burstBytes"/> is what may pass at once
    /// after a pause (default: one second's worth, at least 256 KiB; it must cover the pauses of the copy, such as the
    /// upload of one chunk of a chunked upload, for the rate to stay exact).
    /// </summary>
    /// <param name="bytesPerSecond">The rate cap, at least 1.</param>
    /// <param name="burstBytes">The most bytes that pass without waiting after a pause.</param>
    /// <param name="time">The clock; the system clock when null.</param>
    /// <param name="startFull">Whether the bucket starts holding <paramref name="burstBytes"/> (the first burst passes at
    /// once) rather than empty (the first bytes already wait at the rate). <value>Default: false.</value></param>
    public BandwidthLimiter(long bytesPerSecond, long? burstBytes = null, TimeProvider? time = null, bool startFull = false)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(bytesPerSecond, 1);
        if (burstBytes is < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(burstBytes), "The burst must be at least one byte.");
        }

        BytesPerSecond = bytesPerSecond;
        BurstBytes = burstBytes ?? Math.Max(256 * 1024, bytesPerSecond);
        _time = time ?? TimeProvider.System;
        _ticksPerSecond = _time.TimestampFrequency;
        _last = _time.GetTimestamp();
        _tokens = startFull ? BurstBytes : 0;
    }

    /// <summary>
    /// A limiter of <paramref name="kilobytesPerSecond"/> KB/s, where a KB is 1024 bytes (as in rsync's
    /// <c>--bwlimit</c> and curl's <c>--limit-rate 20K</c>).
    /// </summary>
    public static BandwidthLimiter FromKilobytesPerSecond(long kilobytesPerSecond, TimeProvider? time = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(kilobytesPerSecond, 1);
        return new BandwidthLimiter(checked(kilobytesPerSecond * 1024), time: time);
    }

    /// <summary>The rate cap, bytes per second.</summary>
    public long BytesPerSecond { get; }

    /// <summary>The most bytes that pass without waiting after a pause.</summary>
    public long BurstBytes { get; }

    /// <summary>Every byte accounted so far.</summary>
    public long TotalBytes => Interlocked.Read(ref _total);

    /// <summary>
    /// Accounts <paramref name="bytes"/> that were (or are about to be) moved and waits as long as the cap requires.
    /// Returns at once while the bucket holds enough tokens.
    /// </summary>
    public ValueTask AcquireAsync(long bytes, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(bytes);
        TimeSpan wait = Take(bytes);
        return wait <= TimeSpan.Zero ? ValueTask.CompletedTask : new ValueTask(Task.Delay(wait, _time, cancellationToken));
    }

    /// <summary>Takes <paramref name="bytes"/> from the bucket and returns how long the caller must wait.</summary>
    internal TimeSpan Take(long bytes)
    {
        lock (_lock)
        {
            long now = _time.GetTimestamp();
            _tokens = Math.Min(BurstBytes, _tokens + ((now - _last) / _ticksPerSecond * BytesPerSecond));
            _last = now;
            _tokens -= bytes;
            _total += bytes;
            return _tokens >= 0 ? TimeSpan.Zero : TimeSpan.FromSeconds(-_tokens / BytesPerSecond);
        }
    }
}

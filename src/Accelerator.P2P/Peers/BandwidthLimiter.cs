namespace Accelerator.P2P.Peers;

/// <summary>
/// A token bucket shared by every upload of a peer: each write takes its bytes from the bucket and, when that leaves
/// a debt, waits until the rate has paid it. A burst of a tenth of a second (at least 64 KiB) passes unshaped.
/// </summary>
internal sealed class BandwidthLimiter(long bytesPerSecond, TimeProvider time)
{
    private readonly Lock _lock = new();
    private readonly double _burst = Math.Max(64 * 1024, bytesPerSecond / 10.0);
    private double _tokens = Math.Max(64 * 1024, bytesPerSecond / 10.0);
    private long _last = time.GetTimestamp();

    public bool Enabled => bytesPerSecond > 0;

    public async ValueTask WaitAsync(int bytes, CancellationToken cancellationToken)
    {
        if (bytesPerSecond <= 0)
        {
            return;
        }

        double debt;
        lock (_lock)
        {
            long now = time.GetTimestamp();
            _tokens = Math.Min(_burst, _tokens + (time.GetElapsedTime(_last, now).TotalSeconds * bytesPerSecond));
            _last = now;
            _tokens -= bytes;
            debt = -_tokens;
        }

        if (debt > 0)
        {
            await Task.Delay(TimeSpan.FromSeconds(debt / bytesPerSecond), time, cancellationToken).ConfigureAwait(false);
        }
    }
}

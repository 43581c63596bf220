
namespace Accelerator.Oci.Copying;

/// <summary>
/// A read-only pass-through stream whose reads are paced by a <see cref="BandwidthLimiter"/>. Each read asks for at
/// most <see cref="MaxReadBytes"/>, so that a large buffer does not turn into one long wait.
/// </summary>
internal sealed class ThrottledStream(Stream inner, BandwidthLimiter limiter) : ReadOnlyStream
{
    /// <summary>The most bytes one read passes on.</summary>
    public const int MaxReadBytes = 64 * 1024;

    public override long Length => inner.Length;

    public override int Read(Span<byte> buffer)
    {
        int n = inner.Read(buffer[..Math.Min(buffer.Length, MaxReadBytes)]);
        limiter.AcquireAsync(n).AsTask().GetAwaiter().GetResult();
        return n;
    }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        int n = await inner.ReadAsync(buffer[..Math.Min(buffer.Length, MaxReadBytes)], cancellationToken).ConfigureAwait(false);
        await limiter.AcquireAsync(n, cancellationToken).ConfigureAwait(false);
        return n;
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            inner.Dispose();
        }

        base.Dispose(disposing);
    }

    public override ValueTask DisposeAsync() => inner.DisposeAsync();
}

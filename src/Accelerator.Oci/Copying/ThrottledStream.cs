namespace Accelerator.Oci.Copying;

/// <summary>
/// A read-only pass-through stream whose reads are paced by a <see cref="BandwidthLimiter"/>. Each read asks for at
/// most <see cref="MaxReadBytes"/>, so that a large buffer does not turn into one long wait.
/// </summary>
internal sealed class ThrottledStream(Stream inner, BandwidthLimiter limiter) : Stream
{
    /// <summary>The most bytes one read passes on.</summary>
    public const int MaxReadBytes = 64 * 1024;

    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => false;

    public override long Length => inner.Length;

    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        int n = inner.Read(buffer[..Math.Min(buffer.Length, MaxReadBytes)]);
        limiter.AcquireAsync(n).AsTask().GetAwaiter().GetResult();
        return n;
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
        => ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        int n = await inner.ReadAsync(buffer[..Math.Min(buffer.Length, MaxReadBytes)], cancellationToken).ConfigureAwait(false);
        await limiter.AcquireAsync(n, cancellationToken).ConfigureAwait(false);
        return n;
    }

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

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

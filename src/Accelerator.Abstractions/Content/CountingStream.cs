namespace Accelerator;

/// <summary>
/// A read-only pass-through stream that counts the bytes read through it (<see cref="BytesRead"/>, also its
/// <see cref="Position"/>) and, optionally, reports the running count after each read. Subclasses see every chunk
/// of bytes read in <see cref="OnRead"/> (to count them elsewhere, or hash them).
/// </summary>
public class CountingStream : ReadOnlyStream
{
    private readonly Stream _inner;
    private readonly Action<long>? _progress;
    private readonly bool _leaveOpen;
    private long _read;
    private bool _disposed;

    /// <summary>Wraps <paramref name="inner"/>.</summary>
    /// <param name="inner">The stream read.</param>
    /// <param name="progress">Told the running byte count after each read that returned bytes; none when null.</param>
    /// <param name="leaveOpen">Whether disposing this stream leaves <paramref name="inner"/> open.</param>
    public CountingStream(Stream inner, Action<long>? progress = null, bool leaveOpen = false)
    {
        ArgumentNullException.ThrowIfNull(inner);
        _inner = inner;
        _progress = progress;
        _leaveOpen = leaveOpen;
    }

    /// <summary>The bytes read through this stream so far.</summary>
    public long BytesRead => _read;

    /// <summary>The wrapped stream's length (when it knows it).</summary>
    public override long Length => _inner.Length;

    /// <summary>The bytes read so far (<see cref="BytesRead"/>); it cannot be set.</summary>
    public override long Position
    {
        get => _read;
        set => throw new NotSupportedException();
    }

    /// <inheritdoc />
    public override int Read(Span<byte> buffer)
    {
        int n = _inner.Read(buffer);
        return Advance(buffer[..n]);
    }

    /// <inheritdoc />
    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        int n = await _inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
        return Advance(buffer.Span[..n]);
    }

    /// <summary>Called after each read that returned bytes, with those bytes (<see cref="BytesRead"/> already counts them).</summary>
    protected virtual void OnRead(ReadOnlySpan<byte> data)
    {
    }

    /// <inheritdoc />
    protected override void Dispose(bool disposing)
    {
        if (disposing && !_disposed)
        {
            _disposed = true;
            if (!_leaveOpen)
            {
                _inner.Dispose();
            }
        }

        base.Dispose(disposing);
    }

    /// <inheritdoc />
    public override async ValueTask DisposeAsync()
    {
        if (!_disposed)
        {
            _disposed = true;
            if (!_leaveOpen)
            {
                await _inner.DisposeAsync().ConfigureAwait(false);
            }
        }

        await base.DisposeAsync().ConfigureAwait(false);
    }

    private int Advance(ReadOnlySpan<byte> data)
    {
        if (data.Length > 0)
        {
            _read += data.Length;
            OnRead(data);
            _progress?.Invoke(_read);
        }

        return data.Length;
    }
}

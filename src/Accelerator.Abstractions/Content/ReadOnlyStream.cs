namespace Accelerator;

/// <summary>
/// Base of the read-only, forward-only streams the library hands out: no seeking, no writing, no length or position
/// unless a subclass knows them. Subclasses implement the span and memory reads; the array reads route to them.
/// </summary>
/// <remarks>
/// Derive from it instead of <see cref="Stream"/> whenever a stream is only read front to back (a response body, a
/// range of pieces, a counting or verifying wrapper): the rest of <see cref="Stream"/>'s surface is answered once, here.
/// </remarks>
public abstract class ReadOnlyStream : Stream
{
    /// <summary>True: the stream is read.</summary>
    public override bool CanRead => true;

    /// <summary>False: the stream is read front to back.</summary>
    public override bool CanSeek => false;

    /// <summary>False: the stream is never written.</summary>
    public override bool CanWrite => false;

    /// <summary>Not supported unless a subclass knows the length.</summary>
    /// <exception cref="NotSupportedException">Always, unless overridden.</exception>
    public override long Length => throw new NotSupportedException();

    /// <summary>Not supported (a subclass may report a position; setting it is never supported).</summary>
    /// <exception cref="NotSupportedException">Always for the setter; for the getter unless overridden.</exception>
    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    /// <summary>Reads up to <paramref name="buffer"/>'s length of bytes; returns 0 at the end of the stream.</summary>
    public abstract override int Read(Span<byte> buffer);

    /// <summary>Reads up to <paramref name="buffer"/>'s length of bytes; returns 0 at the end of the stream.</summary>
    public abstract override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default);

    /// <summary>Reads into an array range: <see cref="Read(Span{byte})"/>.</summary>
    public sealed override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    /// <summary>Reads into an array range: <see cref="ReadAsync(Memory{byte}, CancellationToken)"/>.</summary>
    public sealed override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    /// <summary>Does nothing: nothing is written.</summary>
    public override void Flush()
    {
    }

    /// <summary>Not supported.</summary>
    /// <exception cref="NotSupportedException">Always.</exception>
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    /// <summary>Not supported.</summary>
    /// <exception cref="NotSupportedException">Always.</exception>
    public override void SetLength(long value) => throw new NotSupportedException();

    /// <summary>Not supported.</summary>
    /// <exception cref="NotSupportedException">Always.</exception>
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    /// <summary>
    /// For subclasses whose reads are asynchronous at heart (a timer, a network fetch): a synchronous read that runs
    /// <see cref="ReadAsync(Memory{byte}, CancellationToken)"/> into a pooled buffer and copies what it read.
    /// </summary>
    protected int ReadThroughAsync(Span<byte> buffer)
    {
        byte[] rented = System.Buffers.ArrayPool<byte>.Shared.Rent(buffer.Length);
        try
        {
            int n = ReadAsync(rented.AsMemory(0, buffer.Length)).AsTask().GetAwaiter().GetResult();
            rented.AsSpan(0, n).CopyTo(buffer);
            return n;
        }
        finally
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(rented);
        }
    }
}

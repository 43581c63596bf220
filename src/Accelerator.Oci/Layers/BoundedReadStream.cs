namespace Accelerator.Oci.Layers;

/// <summary>Counts bytes read through it and fails once more than a limit come out (a decompression bomb guard).</summary>
internal sealed class BoundedReadStream(Stream inner, long limit) : Stream
{
    public long BytesRead { get; private set; }

    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => false;

    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => BytesRead;
        set => throw new NotSupportedException();
    }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        // Asking for one byte past the limit tells a stream that ends exactly at the limit from one that goes on.
        int read = inner.Read(buffer[..Cap(buffer.Length)]);
        return Count(read);
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        int read = await inner.ReadAsync(buffer[..Cap(buffer.Length)], cancellationToken).ConfigureAwait(false);
        return Count(read);
    }

    private int Cap(int wanted) => (int)Math.Min(wanted, Math.Max(1, limit - BytesRead + 1));

    private int Count(int read)
    {
        BytesRead += read;
        if (BytesRead > limit)
        {
            throw new ContentTooLargeException(
                $"The layer decompresses to more than {limit} bytes, the configured limit (MaxUncompressedBytes).");
        }

        return read;
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


namespace Accelerator.Oci.Layers;

/// <summary>Counts bytes read through it and fails once more than a limit come out (a decompression bomb guard).</summary>
internal sealed class BoundedReadStream(Stream inner, long limit) : ReadOnlyStream
{
    public long BytesRead { get; private set; }

    public override long Position => BytesRead;

    public override int Read(Span<byte> buffer)
    {
        // Asking for one byte past the limit tells a stream that ends exactly at the limit from one that goes on.
        int read = inner.Read(buffer[..Cap(buffer.Length)]);
        return Count(read);
    }

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

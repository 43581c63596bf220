
namespace Accelerator.Oci.Layout;

/// <summary>A read-only, forward-only view of at most a given number of bytes of an inner stream.</summary>
internal sealed class RangeReadStream(Stream inner, long length) : ReadOnlyStream
{
    private long _position;

    public override long Position => _position;

    public override int Read(Span<byte> buffer)
    {
        int n = inner.Read(buffer[..Limit(buffer.Length)]);
        _position += n;
        return n;
    }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        int n = await inner.ReadAsync(buffer[..Limit(buffer.Length)], cancellationToken).ConfigureAwait(false);
        _position += n;
        return n;
    }

    private int Limit(int requested) => (int)Math.Min(requested, length - _position);

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            inner.Dispose();
        }

        base.Dispose(disposing);
    }

    public override async ValueTask DisposeAsync()
    {
        await inner.DisposeAsync().ConfigureAwait(false);
        await base.DisposeAsync().ConfigureAwait(false);
    }
}

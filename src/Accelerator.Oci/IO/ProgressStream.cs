namespace Accelerator.Oci.IO;

/// <summary>A read-only pass-through stream that reports the running byte count after each read.</summary>
internal sealed class ProgressStream(Stream inner, Action<long> report) : ReadOnlyStream
{
    private long _position;

    public override long Length => inner.Length;

    public override long Position => _position;

    public override int Read(Span<byte> buffer) => Advance(inner.Read(buffer));

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        => Advance(await inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false));

    private int Advance(int n)
    {
        if (n > 0)
        {
            _position += n;
            report(_position);
        }

        return n;
    }
}

namespace Accelerator.Oci.Layers;

/// <summary>Reads the first few bytes of a stream ahead (to sniff a magic number), then replays them.</summary>
internal sealed class PeekableStream : Stream
{
    private readonly Stream _inner;
    private readonly byte[] _peeked;
    private readonly bool _ownsInner;
    private int _offset;

    public PeekableStream(Stream inner, int count, bool ownsInner)
    {
        _inner = inner;
        _ownsInner = ownsInner;
        byte[] buffer = new byte[count];
        int total = 0;
        while (total < count)
        {
            int read = inner.Read(buffer, total, count - total);
            if (read == 0)
            {
                break;
            }

            total += read;
        }

        _peeked = buffer[..total];
    }

    public ReadOnlySpan<byte> Peeked => _peeked;

    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => false;

    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        if (_offset < _peeked.Length && !buffer.IsEmpty)
        {
            int n = Math.Min(buffer.Length, _peeked.Length - _offset);
            _peeked.AsSpan(_offset, n).CopyTo(buffer);
            _offset += n;
            return n;
        }

        return _inner.Read(buffer);
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (_offset < _peeked.Length && !buffer.IsEmpty)
        {
            return ValueTask.FromResult(Read(buffer.Span));
        }

        return _inner.ReadAsync(buffer, cancellationToken);
    }

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing && _ownsInner)
        {
            _inner.Dispose();
        }

        base.Dispose(disposing);
    }

    public override ValueTask DisposeAsync() => _ownsInner ? _inner.DisposeAsync() : ValueTask.CompletedTask;
}

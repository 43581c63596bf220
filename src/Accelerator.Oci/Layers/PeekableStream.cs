
namespace Accelerator.Oci.Layers;

/// <summary>Reads the first few bytes of a stream ahead (to sniff a magic number), then replays them.</summary>
internal sealed class PeekableStream : ReadOnlyStream
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
        int total = inner.ReadAtLeast(buffer, count, throwOnEndOfStream: false);
        _peeked = buffer[..total];
    }

    public ReadOnlySpan<byte> Peeked => _peeked;

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

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (_offset < _peeked.Length && !buffer.IsEmpty)
        {
            return ValueTask.FromResult(Read(buffer.Span));
        }

        return _inner.ReadAsync(buffer, cancellationToken);
    }

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

using System.Buffers;

namespace Accelerator.P2P.Peers;

/// <summary>
/// Reads a byte range of a task from the piece store, one piece at a time (each re-hashed against its digest when it is
/// read from disk; pieces in the store's memory cache were verified on arrival). Holds a pin on the task's pieces until
/// disposed, so they are not evicted mid-read.
/// </summary>
internal sealed class PieceReadStream : ReadOnlyStream
{
    private readonly PieceStore _store;
    private readonly TaskSession _session;
    private readonly long _end;
    private readonly IDisposable _pin;
    private byte[]? _piece;
    private int _pieceIndex = -1;
    private int _pieceLength;
    private long _position;

    public PieceReadStream(PieceStore store, TaskSession session, long start, long end, IDisposable pin)
    {
        _store = store;
        _session = session;
        _position = start;
        _end = end;
        _pin = pin;
    }

    public override int Read(Span<byte> buffer)
    {
        if (_position >= _end || buffer.Length == 0)
        {
            return 0;
        }

        int index = (int)(_position / _session.PieceSize);
        if (index != _pieceIndex)
        {
            _piece ??= ArrayPool<byte>.Shared.Rent(Math.Max(1, _session.PieceSize));
            int n = _store.Read(_session.Task, _session.PieceSize, index, _piece);
            if (n != _session.PieceLength(index))
            {
                throw new IOException($"Piece {index} of {_session.Task} was evicted or failed its digest while being read.");
            }

            _pieceIndex = index;
            _pieceLength = n;
        }

        int within = (int)(_position - _session.PieceOffset(index));
        int count = (int)Math.Min(Math.Min(buffer.Length, _pieceLength - within), _end - _position);
        _piece.AsSpan(within, count).CopyTo(buffer);
        _position += count;
        return count;
    }

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        return ValueTask.FromResult(Read(buffer.Span));
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            if (_piece is not null)
            {
                ArrayPool<byte>.Shared.Return(_piece);
                _piece = null;
            }

            _pin.Dispose();
        }

        base.Dispose(disposing);
    }
}

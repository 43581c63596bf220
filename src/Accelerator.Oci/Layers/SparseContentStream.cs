
namespace Accelerator.Oci.Layers;

/// <summary>Expands a sparse file's stored segments into its logical content: segment bytes at their offsets, zeros in holes.</summary>
internal sealed class SparseContentStream(Stream stored, IReadOnlyList<TarSparseSegment> map, long length) : ReadOnlyStream
{
    private long _position;
    private int _segment;

    public override long Length => length;

    public override long Position => _position;

    public override int Read(Span<byte> buffer)
    {
        int n = Plan(buffer.Length, out bool hole);
        if (n == 0)
        {
            return 0;
        }

        if (hole)
        {
            buffer[..n].Clear();
        }
        else
        {
            stored.ReadExactly(buffer[..n]);
        }

        _position += n;
        return n;
    }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        int n = Plan(buffer.Length, out bool hole);
        if (n == 0)
        {
            return 0;
        }

        if (hole)
        {
            buffer.Span[..n].Clear();
        }
        else
        {
            await stored.ReadExactlyAsync(buffer[..n], cancellationToken).ConfigureAwait(false);
        }

        _position += n;
        return n;
    }

    // How many bytes the next read may return from where we are, and whether they lie in a hole.
    private int Plan(int wanted, out bool hole)
    {
        while (_segment < map.Count && map[_segment].Offset + map[_segment].Length <= _position)
        {
            _segment++;
        }

        long available;
        if (_segment < map.Count && map[_segment].Offset <= _position)
        {
            hole = false;
            available = map[_segment].Offset + map[_segment].Length - _position;
        }
        else
        {
            hole = true;
            long next = _segment < map.Count ? map[_segment].Offset : length;
            available = next - _position;
        }

        return (int)Math.Min(wanted, available);
    }
}

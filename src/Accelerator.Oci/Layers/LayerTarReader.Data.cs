using System.Buffers;

namespace Accelerator.Oci.Layers;

public sealed partial class LayerTarReader
{
    /// <summary>Reads up to one block; returns 0 at a clean end of stream, throws when the stream ends mid-block.</summary>
    private async ValueTask<int> ReadBlockAsync(byte[] block, CancellationToken cancellationToken)
    {
        int read = await ReadFullyAsync(block, cancellationToken).ConfigureAwait(false);
        if (read is > 0 and < TarHeader.BlockSize)
        {
            throw new InvalidDataException("The tar archive ends inside a header block.");
        }

        return read;
    }

    private async ValueTask<int> ReadFullyAsync(Memory<byte> buffer, CancellationToken cancellationToken)
    {
        int read = await _archive.ReadAtLeastAsync(buffer, buffer.Length, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false);
        _position += read;
        return read;
    }

    private async ValueTask SkipAsync(long count, CancellationToken cancellationToken)
    {
        if (count <= 0)
        {
            return;
        }

        byte[] buffer = ArrayPool<byte>.Shared.Rent(64 * 1024);
        try
        {
            while (count > 0)
            {
                int read = await _archive.ReadAsync(buffer.AsMemory(0, (int)Math.Min(buffer.Length, count)), cancellationToken).ConfigureAwait(false);
                if (read == 0)
                {
                    throw new InvalidDataException("The tar archive ends inside an entry's data.");
                }

                _position += read;
                count -= read;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private void CheckCurrent(int generation)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (generation != _generation)
        {
            throw new InvalidOperationException("The tar reader has moved past this entry; its data can no longer be read.");
        }
    }

    private int ReadData(Span<byte> buffer, int generation)
    {
        CheckCurrent(generation);
        if (_remaining == 0 || buffer.IsEmpty)
        {
            return 0;
        }

        int read = _archive.Read(buffer[..(int)Math.Min(buffer.Length, _remaining)]);
        return AfterRead(read);
    }

    private async ValueTask<int> ReadDataAsync(Memory<byte> buffer, int generation, CancellationToken cancellationToken)
    {
        CheckCurrent(generation);
        if (_remaining == 0 || buffer.IsEmpty)
        {
            return 0;
        }

        int read = await _archive.ReadAsync(buffer[..(int)Math.Min(buffer.Length, _remaining)], cancellationToken).ConfigureAwait(false);
        return AfterRead(read);
    }

    private int AfterRead(int read)
    {
        if (read == 0)
        {
            throw new InvalidDataException("The tar archive ends inside an entry's data.");
        }

        _remaining -= read;
        _position += read;
        return read;
    }

    /// <summary>The stored data of the current entry, read straight from the archive.</summary>
    private sealed class EntryDataStream(LayerTarReader reader, int generation, long length) : ReadOnlyStream
    {
        private long _position;

        public override long Length => length;

        public override long Position => _position;

        public override int Read(Span<byte> buffer)
        {
            int read = reader.ReadData(buffer, generation);
            _position += read;
            return read;
        }

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            int read = await reader.ReadDataAsync(buffer, generation, cancellationToken).ConfigureAwait(false);
            _position += read;
            return read;
        }
    }
}

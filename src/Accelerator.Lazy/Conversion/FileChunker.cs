using System.Buffers;
using Accelerator.Oci.Layers;

namespace Accelerator.Lazy.Conversion;

/// <summary>
/// Cuts regular files into chunks at multiples of the chunk size, as their data streams out of the layer, and hands
/// the chunks to the <see cref="ChunkStore"/>. Holes are kept: windows wholly inside a sparse file's holes are never
/// read, and windows that are all zeros are left out of the chunk list (a reader fills the gaps with zeros).
/// </summary>
internal sealed class FileChunker(ChunkStore store) : IFileContentSink
{
    /// <summary>Bytes of file data read from the layers (holes not counted).</summary>
    public long BytesRead { get; private set; }

    /// <summary>Logical bytes of the chunked files, holes included.</summary>
    public long LogicalBytes { get; private set; }

    public async ValueTask<(long Size, IReadOnlyList<FileChunkReference> Chunks)> WriteAsync(LayerTarEntry entry, CancellationToken cancellationToken)
    {
        TarEntryHeader header = entry.Header;
        long size = header.Size;
        IReadOnlyList<TarSparseSegment> segments = header.SparseMap ?? (size > 0 ? [new TarSparseSegment(0, size)] : []);
        CheckSegments(segments, size, header.Path);
        LogicalBytes += size;

        int chunkSize = store.ChunkSize;
        var chunks = new List<FileChunkReference>();
        int segment = 0;
        long consumed = 0; // bytes of segments[segment] already read
        while (true)
        {
            while (segment < segments.Count && consumed == segments[segment].Length)
            {
                segment++;
                consumed = 0;
            }

            if (segment == segments.Count)
            {
                break;
            }

            // The window holding the next unread data byte; fill it from every segment it touches.
            long start = (segments[segment].Offset + consumed) / chunkSize * chunkSize;
            int length = (int)Math.Min(chunkSize, size - start);
            byte[] buffer = ArrayPool<byte>.Shared.Rent(chunkSize);
            try
            {
                buffer.AsSpan(0, length).Clear();
                while (segment < segments.Count && segments[segment].Offset + consumed < start + length)
                {
                    TarSparseSegment current = segments[segment];
                    long from = current.Offset + consumed;
                    int count = (int)(Math.Min(current.Offset + current.Length, start + length) - from);
                    await ReadExactlyAsync(entry.Data, buffer.AsMemory((int)(from - start), count), header.Path, cancellationToken).ConfigureAwait(false);
                    consumed += count;
                    BytesRead += count;
                    if (consumed < current.Length)
                    {
                        break;
                    }

                    segment++;
                    consumed = 0;
                }
            }
            catch
            {
                ArrayPool<byte>.Shared.Return(buffer);
                throw;
            }

            if (!buffer.AsSpan(0, length).ContainsAnyExcept((byte)0))
            {
                ArrayPool<byte>.Shared.Return(buffer);
                continue;
            }

            int id = await store.AddAsync(buffer, length, cancellationToken).ConfigureAwait(false);
            chunks.Add(new FileChunkReference(start, id));
        }

        return (size, chunks);
    }

    private static void CheckSegments(IReadOnlyList<TarSparseSegment> segments, long size, string path)
    {
        long end = 0;
        foreach (TarSparseSegment segment in segments)
        {
            if (segment.Offset < end || segment.Length < 0 || segment.Offset + segment.Length > size)
            {
                throw new InvalidDataException($"Tar entry '{path}' has a sparse map with overlapping, unordered or out-of-range segments.");
            }

            end = segment.Offset + segment.Length;
        }
    }

    private static async ValueTask ReadExactlyAsync(Stream data, Memory<byte> buffer, string path, CancellationToken cancellationToken)
    {
        int total = 0;
        while (total < buffer.Length)
        {
            int n = await data.ReadAsync(buffer[total..], cancellationToken).ConfigureAwait(false);
            if (n == 0)
            {
                throw new InvalidDataException($"Tar entry '{path}' has less data than its size.");
            }

            total += n;
        }
    }
}

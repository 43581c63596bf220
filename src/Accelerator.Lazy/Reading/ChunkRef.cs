namespace Accelerator.Lazy.Reading;

/// <summary>One chunk of the bootstrap's chunk table, with where it is stored.</summary>
/// <param name="Index">Its index in the chunk table (sorted by blob, then offset).</param>
/// <param name="Blob">The index of its data blob.</param>
/// <param name="Offset">Where its stored bytes start in the blob.</param>
/// <param name="StoredSize">Its stored size (zstd frame, or raw when equal to <paramref name="Size"/>).</param>
/// <param name="Size">Its uncompressed size.</param>
/// <param name="Digest">The sha256 of its uncompressed bytes.</param>
internal readonly record struct ChunkRef(int Index, int Blob, long Offset, int StoredSize, int Size, Digest Digest)
{
    /// <summary>The end of its stored bytes in the blob.</summary>
    public long End => Offset + StoredSize;

    /// <summary>The location <see cref="Format.LazyChunkCodec.Decode"/> checks against (file offset irrelevant).</summary>
    public ChunkLocation ToLocation(Digest blob) => new(blob, Offset, StoredSize, 0, Size, Digest);
}

/// <summary>A regular file's pieces: where each starts in the file, and its chunk. Gaps between pieces are holes.</summary>
internal sealed class FileChunkMap(long[] starts, ChunkRef[] chunks)
{
    public static readonly FileChunkMap Empty = new([], []);

    public long[] Starts { get; } = starts;

    public ChunkRef[] Chunks { get; } = chunks;

    /// <summary>The first piece that ends after <paramref name="offset"/>, or <see cref="Chunks"/>.Length.</summary>
    public int FirstEndingAfter(long offset)
    {
        // The last piece starting at or before the offset, by binary search; if it ends at or before it, the next one.
        int index = Array.BinarySearch(Starts, offset);
        if (index < 0)
        {
            index = ~index - 1;
        }

        if (index < 0)
        {
            return 0;
        }

        return Starts[index] + Chunks[index].Size > offset ? index : index + 1;
    }
}

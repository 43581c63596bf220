using Accelerator.Chunks.Format;

namespace Accelerator.Lazy.Format;

/// <summary>
/// How a chunk is stored in a lazy image's data blob: the shared chunk encoding (<see cref="ChunkCodec"/>: one zstd
/// frame, or the raw bytes when compression would not make it smaller). Every decoded chunk is checked against its
/// sha256 before it is returned.
/// </summary>
public static class LazyChunkCodec
{
    /// <summary>The zstd level of chunks. Fixed: the same input must give the same bytes.</summary>
    public const int CompressionLevel = ChunkCodec.CompressionLevel;

    /// <summary>
    /// Decodes a stored chunk into <paramref name="destination"/> and verifies it against the chunk digest.
    /// </summary>
    /// <param name="stored">Exactly the chunk's stored bytes (<see cref="ChunkLocation.CompressedSize"/> of them).</param>
    /// <param name="chunk">Where the chunk came from: its sizes and digest.</param>
    /// <param name="destination">At least <see cref="ChunkLocation.UncompressedSize"/> bytes.</param>
    /// <exception cref="InvalidDataException">The stored bytes are not a valid chunk of that size.</exception>
    /// <exception cref="DigestMismatchException">The chunk decodes to bytes that do not match its digest.</exception>
    public static void Decode(ReadOnlySpan<byte> stored, in ChunkLocation chunk, Span<byte> destination)
        => ChunkCodec.Decode(stored, chunk.ChunkDigest, chunk.CompressedSize, chunk.UncompressedSize, destination, "chunk");
}

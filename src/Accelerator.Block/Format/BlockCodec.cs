using Accelerator.Chunks.Format;

namespace Accelerator.Block.Format;

/// <summary>
/// How a block is stored in a data blob: the shared chunk encoding (<see cref="ChunkCodec"/>: one zstd frame or, when
/// compression would not make it smaller, the raw bytes; equal stored and uncompressed lengths mean raw). Every decoded
/// block is checked against its sha256 before it is returned.
/// </summary>
public static class BlockCodec
{
    /// <summary>Decodes a stored block into <paramref name="destination"/> and verifies it against its digest.</summary>
    /// <param name="stored">Exactly the block's stored bytes.</param>
    /// <param name="block">The block's lengths and digest.</param>
    /// <param name="destination">At least <see cref="StoredBlock.UncompressedLength"/> bytes.</param>
    /// <exception cref="InvalidDataException">The stored bytes are not a valid block of that length.</exception>
    /// <exception cref="DigestMismatchException">The block decodes to bytes that do not match its digest.</exception>
    public static void Decode(ReadOnlySpan<byte> stored, in StoredBlock block, Span<byte> destination)
        => ChunkCodec.Decode(stored, block.Digest, block.CompressedLength, block.UncompressedLength, destination, "block");
}

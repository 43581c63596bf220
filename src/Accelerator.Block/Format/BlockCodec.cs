using System.Security.Cryptography;
using ZstdSharp;

namespace Accelerator.Block.Format;

/// <summary>
/// How a block is stored in a data blob: one zstd frame or, when compression would not make it smaller, the raw bytes
/// (the lazy format's chunk encoding: equal stored and uncompressed lengths mean raw). Every decoded block is checked
/// against its sha256 before it is returned.
/// </summary>
public static class BlockCodec
{
    // A zstd decompression context costs more to create than a 64 KiB block costs to decode; each thread keeps one.
    [ThreadStatic]
    private static Decompressor? t_decompressor;

    /// <summary>Decodes a stored block into <paramref name="destination"/> and verifies it against its digest.</summary>
    /// <param name="stored">Exactly the block's stored bytes.</param>
    /// <param name="block">The block's lengths and digest.</param>
    /// <param name="destination">At least <see cref="StoredBlock.UncompressedLength"/> bytes.</param>
    /// <exception cref="InvalidDataException">The stored bytes are not a valid block of that length.</exception>
    /// <exception cref="DigestMismatchException">The block decodes to bytes that do not match its digest.</exception>
    public static void Decode(ReadOnlySpan<byte> stored, in StoredBlock block, Span<byte> destination)
    {
        int size = block.UncompressedLength;
        if (size < 1 || destination.Length < size)
        {
            throw new ArgumentException($"The destination must hold the block's {size} bytes.", nameof(destination));
        }

        if (stored.Length != block.CompressedLength || stored.Length > size)
        {
            throw new InvalidDataException($"Block {block.Digest} is {stored.Length} stored bytes; {block.CompressedLength} (at most {size}) were expected.");
        }

        Span<byte> output = destination[..size];
        if (stored.Length == size)
        {
            stored.CopyTo(output);
        }
        else
        {
            int written;
            try
            {
                written = (t_decompressor ??= new Decompressor()).Unwrap(stored, output);
            }
            catch (ZstdException ex)
            {
                // A failed frame may leave the context in any state: start the next one with a fresh context.
                t_decompressor?.Dispose();
                t_decompressor = null;
                throw new InvalidDataException($"Block {block.Digest} is not a valid zstd frame of {size} bytes: {ex.Message}", ex);
            }

            if (written != size)
            {
                throw new InvalidDataException($"Block {block.Digest} decompresses to {written} bytes, not {size}.");
            }
        }

        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(output, hash);
        var actual = Digest.FromHash(Digest.Sha256, hash);
        if (actual != block.Digest)
        {
            throw new DigestMismatchException(block.Digest, actual.ToString(), "block");
        }
    }
}

using System.Security.Cryptography;
using ZstdSharp;

namespace Accelerator.Lazy.Format;

/// <summary>
/// How a chunk is stored in a data blob: one zstd frame, or — when compression would not make it smaller — the raw
/// bytes. The two are told apart by size: a chunk whose stored size equals its uncompressed size is raw; a zstd
/// frame is always strictly smaller. Every decoded chunk is checked against its sha256 before it is returned.
/// </summary>
public static class LazyChunkCodec
{
    /// <summary>The zstd level of chunks. Fixed: the same input must give the same bytes.</summary>
    public const int CompressionLevel = 3;

    /// <summary>
    /// Decodes a stored chunk into <paramref name="destination"/> and verifies it against the chunk digest.
    /// </summary>
    /// <param name="stored">Exactly the chunk's stored bytes (<see cref="ChunkLocation.CompressedSize"/> of them).</param>
    /// <param name="chunk">Where the chunk came from: its sizes and digest.</param>
    /// <param name="destination">At least <see cref="ChunkLocation.UncompressedSize"/> bytes.</param>
    /// <exception cref="InvalidDataException">The stored bytes are not a valid chunk of that size.</exception>
    /// <exception cref="DigestMismatchException">The chunk decodes to bytes that do not match its digest.</exception>
    public static void Decode(ReadOnlySpan<byte> stored, in ChunkLocation chunk, Span<byte> destination)
    {
        int size = chunk.UncompressedSize;
        if (size < 1 || destination.Length < size)
        {
            throw new ArgumentException($"The destination must hold the chunk's {size} bytes.", nameof(destination));
        }

        if (stored.Length != chunk.CompressedSize || stored.Length > size)
        {
            throw new InvalidDataException($"Chunk {chunk.ChunkDigest} is {stored.Length} stored bytes; {chunk.CompressedSize} (at most {size}) were expected.");
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
                using var decompressor = new Decompressor();
                written = decompressor.Unwrap(stored, output);
            }
            catch (ZstdException ex)
            {
                throw new InvalidDataException($"Chunk {chunk.ChunkDigest} is not a valid zstd frame of {size} bytes: {ex.Message}", ex);
            }

            if (written != size)
            {
                throw new InvalidDataException($"Chunk {chunk.ChunkDigest} decompresses to {written} bytes, not {size}.");
            }
        }

        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(output, hash);
        var actual = Digest.FromHash(Digest.Sha256, hash);
        if (actual != chunk.ChunkDigest)
        {
            throw new DigestMismatchException(chunk.ChunkDigest, actual.ToString(), "chunk");
        }
    }

    /// <summary>
    /// Encodes a chunk with <paramref name="compressor"/> into <paramref name="destination"/> (at least
    /// <paramref name="data"/>'s length), returning the stored length: a zstd frame when smaller, else the raw bytes.
    /// </summary>
    internal static int Encode(Compressor compressor, ReadOnlySpan<byte> data, Span<byte> destination)
    {
        if (compressor.TryWrap(data, destination[..(data.Length - 1)], out int written) && written < data.Length)
        {
            return written;
        }

        data.CopyTo(destination);
        return data.Length;
    }

    /// <summary>A compressor with the chunk settings: fixed level, no zstd checksum (chunks carry sha256).</summary>
    internal static Compressor CreateCompressor()
    {
        var compressor = new Compressor(CompressionLevel);
        compressor.SetParameter(ZstdSharp.Unsafe.ZSTD_cParameter.ZSTD_c_checksumFlag, 0);
        return compressor;
    }
}

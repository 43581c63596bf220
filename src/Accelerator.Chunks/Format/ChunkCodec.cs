using System.Security.Cryptography;
using ZstdSharp;

namespace Accelerator.Chunks.Format;

/// <summary>
/// How a chunk (a lazy image's file chunk, a block image's block) is stored in a data blob: one zstd frame, or — when
/// compression would not make it smaller — the raw bytes. The two are told apart by size: a chunk whose stored size
/// equals its uncompressed size is raw; a zstd frame is always strictly smaller. Every decoded chunk is checked against
/// its sha256 before it is returned.
/// </summary>
public static class ChunkCodec
{
    /// <summary>The zstd level of chunks. Fixed: the same input must give the same bytes.</summary>
    public const int CompressionLevel = 3;

    // A zstd decompression context costs more to create than a small chunk costs to decode; each thread keeps one.
    [ThreadStatic]
    private static Decompressor? t_decompressor;

    /// <summary>Decodes a stored chunk into <paramref name="destination"/> and verifies it against its digest.</summary>
    /// <param name="stored">Exactly the chunk's stored bytes.</param>
    /// <param name="digest">The sha256 of the chunk's uncompressed bytes.</param>
    /// <param name="storedSize">The stored length the index records (<paramref name="stored"/> must be that long).</param>
    /// <param name="size">The uncompressed length the index records.</param>
    /// <param name="destination">At least <paramref name="size"/> bytes.</param>
    /// <param name="kind">What the chunk is, in messages: <c>"chunk"</c>, <c>"block"</c>.</param>
    /// <exception cref="InvalidDataException">The stored bytes are not a valid chunk of that size.</exception>
    /// <exception cref="DigestMismatchException">The chunk decodes to bytes that do not match its digest.</exception>
    public static void Decode(ReadOnlySpan<byte> stored, Digest digest, int storedSize, int size, Span<byte> destination, string kind = "chunk")
    {
        if (size < 1 || destination.Length < size)
        {
            throw new ArgumentException($"The destination must hold the {kind}'s {size} bytes.", nameof(destination));
        }

        if (stored.Length != storedSize || stored.Length > size)
        {
            throw new InvalidDataException($"{Title(kind)} {digest} is {stored.Length} stored bytes; {storedSize} (at most {size}) were expected.");
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
                throw new InvalidDataException($"{Title(kind)} {digest} is not a valid zstd frame of {size} bytes: {ex.Message}", ex);
            }

            if (written != size)
            {
                throw new InvalidDataException($"{Title(kind)} {digest} decompresses to {written} bytes, not {size}.");
            }
        }

        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(output, hash);
        var actual = Digest.FromHash(Digest.Sha256, hash);
        if (actual != digest)
        {
            throw new DigestMismatchException(digest, actual.ToString(), kind);
        }
    }

    /// <summary>
    /// Encodes a chunk with <paramref name="compressor"/> (from <see cref="CreateCompressor"/>) into
    /// <paramref name="destination"/> (at least <paramref name="data"/>'s length), returning the stored length: a zstd
    /// frame when smaller, else the raw bytes.
    /// </summary>
    public static int Encode(Compressor compressor, ReadOnlySpan<byte> data, Span<byte> destination)
    {
        ArgumentNullException.ThrowIfNull(compressor);
        if (compressor.TryWrap(data, destination[..(data.Length - 1)], out int written) && written < data.Length)
        {
            return written;
        }

        data.CopyTo(destination);
        return data.Length;
    }

    /// <summary>A compressor with the chunk settings: <see cref="CompressionLevel"/>, no zstd checksum (chunks carry sha256).</summary>
    public static Compressor CreateCompressor()
    {
        var compressor = new Compressor(CompressionLevel);
        compressor.SetParameter(ZstdSharp.Unsafe.ZSTD_cParameter.ZSTD_c_checksumFlag, 0);
        return compressor;
    }

    private static string Title(string kind) => kind.Length == 0 ? kind : char.ToUpperInvariant(kind[0]) + kind[1..];
}

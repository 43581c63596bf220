using ZstdSharp;

namespace Accelerator.Lazy.Format;

/// <summary>
/// The bootstrap's byte layout (docs/formats/lazy.md, "Bootstrap"): zstd over a 12-byte header (magic
/// <c>ACCELBS\0</c>, format version as a little-endian uint32) and a MessagePack array of nine sections of columns.
/// </summary>
internal static partial class BootstrapCodec
{
    /// <summary>The magic that opens every uncompressed bootstrap.</summary>
    public static ReadOnlySpan<byte> Magic => "ACCELBS\0"u8;

    public const int HeaderSize = 12;

    /// <summary>The number of top-level sections of a version 1 body.</summary>
    public const int SectionCount = 9;

    /// <summary>The zstd level of the bootstrap. Fixed: the same input must give the same bytes.</summary>
    public const int CompressionLevel = 15;

    /// <summary>Compresses an encoded bootstrap (one zstd frame with content size and checksum).</summary>
    public static byte[] Compress(ReadOnlySpan<byte> raw)
    {
        using var compressor = new Compressor(CompressionLevel);
        compressor.SetParameter(ZstdSharp.Unsafe.ZSTD_cParameter.ZSTD_c_checksumFlag, 1);
        byte[] buffer = new byte[Compressor.GetCompressBound(raw.Length)];
        int n = compressor.Wrap(raw, buffer);
        return buffer.AsSpan(0, n).ToArray();
    }

    /// <summary>Decompresses a bootstrap blob, refusing more than <paramref name="maxBytes"/> of output.</summary>
    /// <exception cref="InvalidDataException">The blob is not valid zstd or is too large.</exception>
    public static byte[] Decompress(ReadOnlyMemory<byte> compressed, int maxBytes)
    {
        try
        {
            using var input = new MemoryStream(compressed.ToArray(), writable: false);
            using var zstd = new DecompressionStream(input);
            using var output = new MemoryStream();
            byte[] buffer = new byte[81920];
            int n;
            while ((n = zstd.Read(buffer, 0, buffer.Length)) > 0)
            {
                if (output.Length + n > maxBytes)
                {
                    throw new InvalidDataException($"The bootstrap decompresses to more than {maxBytes} bytes, the limit.");
                }

                output.Write(buffer, 0, n);
            }

            return output.ToArray();
        }
        catch (ZstdException ex)
        {
            throw new InvalidDataException($"The bootstrap is not valid zstd: {ex.Message}", ex);
        }
        catch (IOException ex)
        {
            throw new InvalidDataException($"The bootstrap is not valid zstd: {ex.Message}", ex);
        }
    }
}

using System.IO.Compression;
using Accelerator.Oci.Model;

namespace Accelerator.Oci.Layers;

/// <summary>Opens layer blobs as uncompressed tar streams, with a bound on how many bytes decompression may yield.
/// The compression of a known media type comes from <see cref="MediaTypes.GetLayerCompression"/>.</summary>
public static class LayerStreams
{
    /// <summary>
    /// Recognises the compression from the first bytes of a blob: gzip starts with 1F 8B (RFC 1952, 2.3.1), a zstd
    /// frame with the little-endian magic 0xFD2FB528 (RFC 8878, 3.1.1); anything else is taken as plain tar.
    /// </summary>
    public static LayerCompression Detect(ReadOnlySpan<byte> start)
    {
        if (start.Length >= 2 && start[0] == 0x1F && start[1] == 0x8B)
        {
            return LayerCompression.Gzip;
        }

        if (start.Length >= 4 && start[0] == 0x28 && start[1] == 0xB5 && start[2] == 0x2F && start[3] == 0xFD)
        {
            return LayerCompression.Zstd;
        }

        return LayerCompression.None;
    }

    /// <summary>
    /// Wraps <paramref name="blob"/> so that reading yields the uncompressed tar stream, failing with
    /// <see cref="ContentTooLargeException"/> once more than <paramref name="maxUncompressedBytes"/> bytes come out.
    /// </summary>
    /// <remarks>Detection reads the first bytes synchronously.</remarks>
    /// <param name="blob">The layer blob as stored.</param>
    /// <param name="compression">The blob's compression, or <see langword="null"/> to detect it from its first bytes.</param>
    /// <param name="maxUncompressedBytes">The most uncompressed bytes allowed; <see cref="long.MaxValue"/> for no limit.</param>
    /// <param name="leaveOpen">Whether disposing the returned stream leaves <paramref name="blob"/> open.</param>
    public static Stream OpenDecompressed(Stream blob, LayerCompression? compression, long maxUncompressedBytes = long.MaxValue, bool leaveOpen = false)
    {
        ArgumentNullException.ThrowIfNull(blob);
        ArgumentOutOfRangeException.ThrowIfNegative(maxUncompressedBytes);

        // The peeking wrapper also decides whether the caller's stream gets disposed.
        var source = new PeekableStream(blob, compression is null ? 4 : 0, ownsInner: !leaveOpen);
        compression ??= Detect(source.Peeked);
        Stream decompressed = compression switch
        {
            LayerCompression.None => source,
            LayerCompression.Gzip => new GZipStream(source, CompressionMode.Decompress),
            LayerCompression.Zstd => new ZstdSharp.DecompressionStream(source),
            _ => throw new ArgumentOutOfRangeException(nameof(compression)),
        };

        return new BoundedReadStream(decompressed, maxUncompressedBytes);
    }
}

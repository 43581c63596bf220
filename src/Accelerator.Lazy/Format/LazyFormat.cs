using Accelerator.Chunks.Images;

namespace Accelerator.Lazy.Format;

/// <summary>
/// Constants of the lazy image format, version 1: media types, annotation keys, chunk-size bounds and the limits a
/// reader enforces. The format is specified in <c>docs/formats/lazy.md</c>.
/// </summary>
public static class LazyFormat
{
    /// <summary>The format version this library writes and reads.</summary>
    public const int Version = 1;

    /// <summary>The lazy image as an accelerated image format: bootstrap layer, data blobs, <c>TAG-accel</c>.</summary>
    public static readonly AcceleratedImageFormat ImageFormat =
        new("lazy image", "bootstrap", BootstrapMediaType, ChunksMediaType, VersionAnnotation, Version, TagSuffix);

    /// <summary>Media type of the bootstrap layer: the zstd-compressed, MessagePack-encoded metadata.</summary>
    public const string BootstrapMediaType = "application/vnd.accelerator.lazy.bootstrap.v1+zstd";

    /// <summary>Media type of a data blob: compressed chunks one after another.</summary>
    public const string ChunksMediaType = "application/vnd.accelerator.lazy.chunks.v1";

    /// <summary>Manifest annotation naming the digest of the source image manifest the lazy image was converted from.</summary>
    public const string SourceDigestAnnotation = Accelerator.Oci.Resolution.AcceleratedVariant.SourceDigestAnnotation;

    /// <summary>Manifest annotation naming the source image reference (as given to the converter).</summary>
    public const string SourceReferenceAnnotation = "dev.accelerator.source.ref";

    /// <summary>Manifest annotation holding the format version (<c>"1"</c>).</summary>
    public const string VersionAnnotation = "dev.accelerator.lazy.version";

    /// <summary>Manifest annotation holding the chunk size in bytes.</summary>
    public const string ChunkSizeAnnotation = "dev.accelerator.lazy.chunk-size";

    /// <summary>The suffix added to the source tag to name the converted image: <c>TAG-accel</c>.</summary>
    public const string TagSuffix = "-accel";

    /// <summary>The default chunk size: 1 MiB.</summary>
    public const int DefaultChunkSize = 1 << 20;

    /// <summary>The smallest chunk size: 64 KiB.</summary>
    public const int MinChunkSize = 64 << 10;

    /// <summary>The largest chunk size: 16 MiB.</summary>
    public const int MaxChunkSize = 16 << 20;

    /// <summary>The largest uncompressed bootstrap a reader accepts by default: 512 MiB.</summary>
    public const int DefaultMaxBootstrapBytes = 512 << 20;

    /// <summary>The most inodes a bootstrap may hold: 2^26.</summary>
    public const int MaxInodes = 1 << 26;

    /// <summary>The longest file name, in UTF-8 bytes (Linux NAME_MAX).</summary>
    public const int MaxNameBytes = 255;

    /// <summary>The longest symbolic link target, in UTF-8 bytes (Linux PATH_MAX less the terminating NUL).</summary>
    public const int MaxSymlinkBytes = 4095;

    /// <summary>The longest extended attribute name, in bytes (Linux XATTR_NAME_MAX).</summary>
    public const int MaxXattrNameBytes = 255;

    /// <summary>The largest extended attribute value, in bytes (Linux XATTR_SIZE_MAX).</summary>
    public const int MaxXattrValueBytes = 64 << 10;

    /// <summary>The length of a chunk or blob digest in the bootstrap: a raw sha256.</summary>
    public const int DigestBytes = 32;

    /// <summary>Whether <paramref name="chunkSize"/> is a valid chunk size: a power of two from 64 KiB to 16 MiB.</summary>
    public static bool IsValidChunkSize(long chunkSize) =>
        chunkSize is >= MinChunkSize and <= MaxChunkSize && (chunkSize & (chunkSize - 1)) == 0;

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> unless <paramref name="chunkSize"/> is valid.</summary>
    public static void ValidateChunkSize(long chunkSize, string? parameterName = null)
    {
        if (!IsValidChunkSize(chunkSize))
        {
            throw new ArgumentOutOfRangeException(
                parameterName ?? nameof(chunkSize), chunkSize,
                $"The chunk size must be a power of two from {MinChunkSize} (64 KiB) to {MaxChunkSize} (16 MiB) bytes.");
        }
    }
}

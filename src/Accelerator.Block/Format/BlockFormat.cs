using Accelerator.Chunks.Images;

namespace Accelerator.Block.Format;

/// <summary>
/// Constants of the block image format, version 1: media types, annotation keys, block-size bounds and the limits a
/// reader enforces. The format is specified in <c>docs/formats/block.md</c>.
/// </summary>
public static class BlockFormat
{
    /// <summary>The format version this library writes and reads.</summary>
    public const int Version = 1;

    /// <summary>The block image as an accelerated image format: index layer, data blobs, <c>TAG-accel-block</c>.</summary>
    public static readonly AcceleratedImageFormat ImageFormat =
        new("block image", "index", IndexMediaType, BlocksMediaType, VersionAnnotation, Version, TagSuffix);

    /// <summary>Media type of the index layer: magic, version, then a zstd frame of the MessagePack body.</summary>
    public const string IndexMediaType = "application/vnd.accelerator.block.index.v1";

    /// <summary>Media type of a data blob: stored blocks one after another.</summary>
    public const string BlocksMediaType = "application/vnd.accelerator.block.blocks.v1";

    /// <summary>Manifest annotation naming the digest of the source image manifest.</summary>
    public const string SourceDigestAnnotation = Accelerator.Oci.Resolution.AcceleratedVariant.SourceDigestAnnotation;

    /// <summary>Manifest annotation holding the format version (<c>"1"</c>).</summary>
    public const string VersionAnnotation = "dev.accelerator.block.version";

    /// <summary>Manifest annotation holding the block size in bytes.</summary>
    public const string BlockSizeAnnotation = "dev.accelerator.block.block-size";

    /// <summary>Manifest annotation naming the file system in the image (<c>ext4</c> or <c>erofs</c>).</summary>
    public const string FileSystemAnnotation = "dev.accelerator.block.filesystem";

    /// <summary>The suffix added to the source tag to name the converted image: <c>TAG-accel-block</c>.</summary>
    public const string TagSuffix = "-accel-block";

    /// <summary>
    /// The default block size: 64 KiB — sixteen 4 KiB file-system blocks, large enough for zstd to compress well and
    /// for one registry round trip to be worth it, small enough that a 4 KiB random read fetches little it does not need.
    /// </summary>
    public const int DefaultBlockSize = 64 << 10;

    /// <summary>The smallest block size: 4 KiB (the page size and the ext4 block size).</summary>
    public const int MinBlockSize = 4 << 10;

    /// <summary>The largest block size: 1 MiB.</summary>
    public const int MaxBlockSize = 1 << 20;

    /// <summary>The most blocks a disk may have: 2^24 (1 TiB at 64 KiB).</summary>
    public const long MaxBlocks = 1L << 24;

    /// <summary>The most layers a stack may have.</summary>
    public const int MaxLayers = 128;

    /// <summary>The most data blobs an index may name.</summary>
    public const int MaxBlobs = 1 << 20;

    /// <summary>The largest uncompressed index body a reader accepts: 256 MiB.</summary>
    public const int MaxIndexBodyBytes = 256 << 20;

    /// <summary>The length of a block or blob digest in the index: a raw sha256.</summary>
    public const int DigestBytes = 32;

    /// <summary>Whether <paramref name="blockSize"/> is valid: a power of two from 4 KiB to 1 MiB.</summary>
    public static bool IsValidBlockSize(long blockSize) =>
        blockSize is >= MinBlockSize and <= MaxBlockSize && (blockSize & (blockSize - 1)) == 0;

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> unless <paramref name="blockSize"/> is valid.</summary>
    public static void ValidateBlockSize(long blockSize, string? parameterName = null)
    {
        if (!IsValidBlockSize(blockSize))
        {
            throw new ArgumentOutOfRangeException(
                parameterName ?? nameof(blockSize), blockSize, $"The block size must be a power of two from {MinBlockSize} (4 KiB) to {MaxBlockSize} (1 MiB) bytes.");
        }
    }
}

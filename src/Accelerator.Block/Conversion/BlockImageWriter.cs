using System.ComponentModel.DataAnnotations;
using Accelerator.Block.Format;
using Accelerator.Oci.Validation;
using Microsoft.Extensions.Options;

namespace Accelerator.Block.Conversion;

/// <summary>
/// Cuts a raw disk image into a block image: fixed blocks, all-zero blocks skipped, the rest deduplicated by sha256,
/// compressed with zstd (raw when not smaller) and packed in address order into data blobs, with a one-layer
/// <see cref="BlockIndex"/>. The same input gives byte-identical output.
/// </summary>
public static class BlockImageWriter
{
    /// <summary>
    /// Writes the block image of <paramref name="rawImagePath"/> into <paramref name="outputDirectory"/>: one file per
    /// data blob, named by the hex of its sha256. The disk size is the file's size rounded up to the block size.
    /// </summary>
    /// <param name="rawImagePath">The raw disk image.</param>
    /// <param name="outputDirectory">Where to write the data blobs (created when missing).</param>
    /// <param name="options">Block size, blob size, parallelism; defaults when null.</param>
    /// <param name="cancellationToken">Cancels the work.</param>
    public static async Task<BlockImageBuild> WriteAsync(string rawImagePath, string outputDirectory, BlockWriteOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(rawImagePath);
        ArgumentException.ThrowIfNullOrEmpty(outputDirectory);
        options ??= new BlockWriteOptions();
        new BlockWriteOptionsValidator().ThrowIfOutOfRange(options, "block write");
        Directory.CreateDirectory(outputDirectory);
        int blockSize = options.BlockSize;
        using var file = File.OpenHandle(rawImagePath, FileMode.Open, FileAccess.Read, FileShare.Read, FileOptions.SequentialScan);
        long length = RandomAccess.GetLength(file);
        long blocks = Math.Max(1, (length + blockSize - 1) / blockSize);
        if (blocks > BlockFormat.MaxBlocks)
        {
            throw new ArgumentException($"{rawImagePath} is {length} bytes: more than {BlockFormat.MaxBlocks} blocks of {blockSize}.", nameof(rawImagePath));
        }

        using var packer = new BlockPacker(outputDirectory, blockSize, options.DataBlobSize, options.MaxParallelism);
        var extents = new List<BlockExtent>();
        long zeroBlocks = 0;
        int batchBlocks = Math.Max(16, (4 << 20) / blockSize) * options.MaxParallelism;
        byte[] buffer = new byte[batchBlocks * blockSize];
        for (long first = 0; first < blocks; first += batchBlocks)
        {
            cancellationToken.ThrowIfCancellationRequested();
            int count = (int)Math.Min(batchBlocks, blocks - first);
            int read = await ReadAtAsync(file, buffer.AsMemory(0, count * blockSize), first * blockSize, cancellationToken).ConfigureAwait(false);
            buffer.AsSpan(read, (count * blockSize) - read).Clear();
            var nonZero = new List<ReadOnlyMemory<byte>>(count);
            var addresses = new List<long>(count);
            for (int i = 0; i < count; i++)
            {
                ReadOnlyMemory<byte> block = buffer.AsMemory(i * blockSize, blockSize);
                if (block.Span.ContainsAnyExcept((byte)0))
                {
                    nonZero.Add(block);
                    addresses.Add(first + i);
                }
                else
                {
                    zeroBlocks++;
                }
            }

            int[] stored = packer.AddBatch(nonZero);
            for (int i = 0; i < stored.Length; i++)
            {
                AppendExtent(extents, addresses[i], stored[i]);
            }
        }

        packer.Finish();
        var index = BlockIndex.Create(
            blocks * blockSize, blockSize, [.. packer.NewBlobs.Select(b => b.Blob)], packer.NewBlocks, [extents], options.Prefetch);
        return new BlockImageBuild(index, packer.NewBlobs, blocks, zeroBlocks, packer.DuplicateBlocks, packer.StoredBytes);
    }

    /// <summary>Appends a one-block extent, merging it into the last one when that is the same block just before it.</summary>
    internal static void AppendExtent(List<BlockExtent> extents, long block, int stored)
    {
        if (extents.Count > 0 && extents[^1] is var last && last.EndBlock == block && last.StoredBlock == stored)
        {
            extents[^1] = last with { BlockCount = last.BlockCount + 1 };
        }
        else
        {
            extents.Add(new BlockExtent(block, 1, stored));
        }
    }

    private static async Task<int> ReadAtAsync(Microsoft.Win32.SafeHandles.SafeFileHandle file, Memory<byte> buffer, long offset, CancellationToken cancellationToken)
    {
        int total = 0;
        while (total < buffer.Length)
        {
            int n = await RandomAccess.ReadAsync(file, buffer[total..], offset + total, cancellationToken).ConfigureAwait(false);
            if (n == 0)
            {
                break;
            }

            total += n;
        }

        return total;
    }
}

/// <summary>
/// Options of <see cref="BlockImageWriter"/> (and <see cref="Layers.BlockLayerFreezer"/>), checked by
/// <see cref="BlockWriteOptionsValidator"/>.
/// </summary>
public sealed record BlockWriteOptions : IValidatableObject
{
    /// <summary>The block size (<see cref="BlockFormat.IsValidBlockSize"/>). <value>Default: 64 KiB.</value></summary>
    public int BlockSize { get; init; } = BlockFormat.DefaultBlockSize;

    /// <summary>The size at which a data blob is closed and the next begun. <value>Default: 64 MiB.</value></summary>
    public long DataBlobSize { get; init; } = 64L << 20;

    /// <summary>Blocks compressed at once; the output does not depend on it. <value>Default: the processor count.</value></summary>
    public int MaxParallelism { get; init; } = Environment.ProcessorCount;

    /// <summary>The prefetch trace to store in the index (block addresses in read order). <value>Default: none.</value></summary>
    public IReadOnlyList<long>? Prefetch { get; init; }

    /// <summary>The failure of a block size that <see cref="BlockFormat.IsValidBlockSize"/> refuses.</summary>
    internal static readonly string BlockSizeProblem =
        $"{nameof(BlockSize)} must be a power of two from {BlockFormat.MinBlockSize} (4 KiB) to {BlockFormat.MaxBlockSize} (1 MiB) bytes.";

    /// <inheritdoc />
    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (!BlockFormat.IsValidBlockSize(BlockSize))
        {
            yield return new ValidationResult(BlockSizeProblem);
        }

        if (DataBlobSize < BlockSize)
        {
            yield return new ValidationResult($"{nameof(DataBlobSize)} must be at least the block size.");
        }

        if (MaxParallelism < 1)
        {
            yield return new ValidationResult($"{nameof(MaxParallelism)} must be at least 1.");
        }
    }
}

/// <summary>Validates <see cref="BlockWriteOptions"/> (generated from its data annotations and rules).</summary>
[OptionsValidator]
public sealed partial class BlockWriteOptionsValidator : IValidateOptions<BlockWriteOptions>
{
}

/// <summary>What <see cref="BlockImageWriter"/> or <see cref="Layers.BlockLayerFreezer"/> made.</summary>
/// <param name="Index">The index (one layer from the writer; the lower layers plus the frozen one from the freezer).</param>
/// <param name="Blobs">The data blobs written and their files.</param>
/// <param name="Blocks">The blocks considered: the disk's (writer), or those the copy-on-write layer held (freezer).</param>
/// <param name="ZeroBlocks">Blocks skipped because they are all zeros.</param>
/// <param name="DuplicateBlocks">Non-zero blocks equal to a block already stored.</param>
/// <param name="StoredBytes">The bytes of the data blobs.</param>
public sealed record BlockImageBuild(
    BlockIndex Index, IReadOnlyList<(BlockBlob Blob, string Path)> Blobs, long Blocks, long ZeroBlocks, long DuplicateBlocks, long StoredBytes);

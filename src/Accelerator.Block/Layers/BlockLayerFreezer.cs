using Accelerator.Block.Conversion;
using Accelerator.Block.Format;
using Accelerator.Oci.Validation;

namespace Accelerator.Block.Layers;

/// <summary>
/// Freezes a stack — a block image's layers plus a copy-on-write layer over them — into a new read-only layer: the
/// blocks the copy-on-write layer holds are packed into new data blobs (deduplicated against the image's stored blocks
/// and each other, zero blocks skipped, compressed), and a new index lists the image's layers with one more on top
/// (zero extents where the layer hides lower data). The snapshot cache keeps such frozen stacks; the result opens
/// like any block image.
/// </summary>
public static class BlockLayerFreezer
{
    /// <summary>Freezes <paramref name="upper"/> over <paramref name="lower"/> into a new index and new data blobs in <paramref name="outputDirectory"/>.</summary>
    /// <param name="lower">The index of the stack the layer was written over.</param>
    /// <param name="upper">The copy-on-write layer (made over a disk of <paramref name="lower"/>); flushed first.</param>
    /// <param name="outputDirectory">Where the new data blobs are written (created when missing).</param>
    /// <param name="options">Blob size and parallelism (the block size is the index's); defaults when null.</param>
    /// <param name="cancellationToken">Cancels the work.</param>
    /// <exception cref="ArgumentException">The layer does not match the index's geometry.</exception>
    public static async Task<BlockImageBuild> FreezeAsync(
        BlockIndex lower, CopyOnWriteDisk upper, string outputDirectory, BlockWriteOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(lower);
        ArgumentNullException.ThrowIfNull(upper);
        ArgumentException.ThrowIfNullOrEmpty(outputDirectory);
        options = (options ?? new BlockWriteOptions()) with { BlockSize = lower.BlockSize };
        new BlockWriteOptionsValidator().ThrowIfOutOfRange(options, "block write");
        if (upper.Size != lower.DiskSize || upper.BlockSize != lower.BlockSize)
        {
            throw new ArgumentException(
                $"The layer ({upper.Size} bytes, {upper.BlockSize}-byte blocks) does not match the index ({lower.DiskSize}, {lower.BlockSize}).", nameof(upper));
        }

        if (lower.Layers.Count >= BlockFormat.MaxLayers)
        {
            throw new InvalidOperationException($"The stack already has {lower.Layers.Count} layers, the most an index may hold.");
        }

        await upper.FlushAsync(cancellationToken).ConfigureAwait(false);
        Directory.CreateDirectory(outputDirectory);
        int[] below = lower.Flatten();
        int bs = lower.BlockSize;
        using var packer = new BlockPacker(outputDirectory, bs, options.DataBlobSize, options.MaxParallelism, lower.StoredBlocks, lower.Blobs.Count);
        var extents = new List<BlockExtent>();
        long zeroBlocks = 0;
        int batchBlocks = Math.Max(16, (4 << 20) / bs);
        var buffer = new byte[batchBlocks * bs];
        var batch = new List<ReadOnlyMemory<byte>>(batchBlocks);
        var addresses = new List<long>(batchBlocks);

        void Flush()
        {
            int[] stored = packer.AddBatch(batch);
            for (int i = 0; i < stored.Length; i++)
            {
                BlockImageWriter.AppendExtent(extents, addresses[i], stored[i]);
            }

            batch.Clear();
            addresses.Clear();
        }

        for (long block = 0; block < lower.BlockCount; block++)
        {
            CopyOnWriteDisk.BlockState state = upper.GetState(block);
            if (state == CopyOnWriteDisk.BlockState.Lower)
            {
                continue;
            }

            bool zero = state == CopyOnWriteDisk.BlockState.Zero;
            Memory<byte> slot = buffer.AsMemory(batch.Count * bs, bs);
            if (!zero)
            {
                cancellationToken.ThrowIfCancellationRequested();
                upper.ReadDataBlock(block, slot.Span);
                zero = !slot.Span.ContainsAnyExcept((byte)0);
            }

            if (zero)
            {
                zeroBlocks++;
                if (below[block] >= 0)
                {
                    // Keep extents sorted: what is batched comes first.
                    Flush();
                    BlockImageWriter.AppendExtent(extents, block, -1);
                }

                continue;
            }

            batch.Add(slot);
            addresses.Add(block);
            if (batch.Count == batchBlocks)
            {
                Flush();
            }
        }

        Flush();
        packer.Finish();
        var blobs = lower.Blobs.Concat(packer.NewBlobs.Select(b => b.Blob)).ToList();
        var stored = lower.StoredBlocks.Concat(packer.NewBlocks).ToList();
        var layers = lower.Layers.Append(extents).ToList();
        var index = BlockIndex.Create(lower.DiskSize, bs, blobs, stored, layers, lower.Prefetch);
        return new BlockImageBuild(index, packer.NewBlobs, upper.ChangedBlocks, zeroBlocks, packer.DuplicateBlocks, packer.StoredBytes);
    }
}

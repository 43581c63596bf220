using System.Diagnostics;

namespace Accelerator.Block.Format;

/// <summary>A data blob of a block image: stored blocks one after another.</summary>
/// <param name="Digest">The blob's digest.</param>
/// <param name="Size">The blob's size in bytes.</param>
public readonly record struct BlockBlob(Digest Digest, long Size);

/// <summary>
/// One stored block: where its bytes are (a range of a data blob, fetched with one ranged read), how long it is stored
/// and uncompressed, and the sha256 of its uncompressed bytes (its address in the cache, and what it is verified against).
/// A block whose stored length equals its uncompressed length is raw; otherwise it is one zstd frame.
/// </summary>
/// <param name="Blob">The index of the data blob in <see cref="BlockIndex.Blobs"/>.</param>
/// <param name="CompressedOffset">The offset of the stored bytes in the blob.</param>
/// <param name="CompressedLength">The stored length.</param>
/// <param name="UncompressedLength">The uncompressed length (the block size).</param>
/// <param name="Digest">The sha256 of the uncompressed bytes.</param>
public readonly record struct StoredBlock(int Blob, long CompressedOffset, int CompressedLength, int UncompressedLength, Digest Digest);

/// <summary>
/// A run of consecutive blocks of a layer that all read as one stored block (most extents are one block long; a run of
/// identical blocks is one extent), or as zeros when <see cref="StoredBlock"/> is -1.
/// </summary>
/// <param name="FirstBlock">The first block address (LBA in blocks).</param>
/// <param name="BlockCount">The number of blocks, at least 1.</param>
/// <param name="StoredBlock">The index in <see cref="BlockIndex.StoredBlocks"/>, or -1 for zeros.</param>
public readonly record struct BlockExtent(long FirstBlock, long BlockCount, int StoredBlock)
{
    /// <summary>The block after the last one.</summary>
    public long EndBlock => FirstBlock + BlockCount;

    /// <summary>Whether the extent reads as zeros (a trimmed range hiding lower layers).</summary>
    public bool IsZero => StoredBlock < 0;
}

/// <summary>
/// The index of a block image: the disk's size and block size, the data blobs, the table of stored blocks
/// (deduplicated by digest), and a stack of layers — a read-only base and upper layers, each a sorted list of extents.
/// A block reads as the extent of the topmost layer that covers it; a block no layer covers reads as zeros. The index
/// also carries the prefetch trace: the blocks a recorded start read, in order.
/// </summary>
/// <remarks>Every index, offset, length and count is checked when an index is created or read, so lookups need no checks.</remarks>
public sealed partial class BlockIndex
{
    private readonly BlockBlob[] _blobs;
    private readonly int[] _blockBlob;
    private readonly long[] _blockOffset;
    private readonly int[] _blockStored;
    private readonly int[] _blockLength;
    private readonly byte[] _blockDigests;
    private readonly BlockExtent[][] _layers;
    private readonly long[] _prefetch;

    private BlockIndex(
        long diskSize, int blockSize, BlockBlob[] blobs, int[] blockBlob, long[] blockOffset, int[] blockStored, int[] blockLength,
        byte[] blockDigests, BlockExtent[][] layers, long[] prefetch)
    {
        DiskSize = diskSize;
        BlockSize = blockSize;
        _blobs = blobs;
        _blockBlob = blockBlob;
        _blockOffset = blockOffset;
        _blockStored = blockStored;
        _blockLength = blockLength;
        _blockDigests = blockDigests;
        _layers = layers;
        _prefetch = prefetch;
        Validate();
    }

    /// <summary>The size of the disk in bytes (a multiple of <see cref="BlockSize"/>).</summary>
    public long DiskSize { get; }

    /// <summary>The block size in bytes.</summary>
    public int BlockSize { get; }

    /// <summary>The number of blocks of the disk.</summary>
    public long BlockCount => DiskSize / BlockSize;

    /// <summary>The data blobs.</summary>
    public IReadOnlyList<BlockBlob> Blobs => _blobs;

    /// <summary>The number of distinct stored blocks.</summary>
    public int StoredBlockCount => _blockBlob.Length;

    /// <summary>The stored blocks, in table order.</summary>
    public IReadOnlyList<StoredBlock> StoredBlocks => new StoredBlockList(this);

    /// <summary>The layers, base first.</summary>
    public IReadOnlyList<IReadOnlyList<BlockExtent>> Layers => _layers;

    /// <summary>The prefetch trace: block addresses in the order a recorded start first read them.</summary>
    public IReadOnlyList<long> Prefetch => _prefetch;

    /// <summary>The stored block at <paramref name="index"/> in the table.</summary>
    public StoredBlock GetStoredBlock(int index) => new(
        _blockBlob[index], _blockOffset[index], _blockStored[index], _blockLength[index],
        Digest.FromHash(Digest.Sha256, RawDigest(index)));

    /// <summary>The raw sha256 of stored block <paramref name="index"/>.</summary>
    internal ReadOnlySpan<byte> RawDigest(int index) => _blockDigests.AsSpan(index * BlockFormat.DigestBytes, BlockFormat.DigestBytes);

    /// <summary>
    /// Creates an index, checking it as a reader would.
    /// </summary>
    /// <param name="diskSize">The disk size, a positive multiple of <paramref name="blockSize"/>.</param>
    /// <param name="blockSize">The block size (<see cref="BlockFormat.IsValidBlockSize"/>).</param>
    /// <param name="blobs">The data blobs.</param>
    /// <param name="storedBlocks">The stored blocks; their blob indexes refer to <paramref name="blobs"/>.</param>
    /// <param name="layers">The layers, base first; each sorted by block, extents not overlapping.</param>
    /// <param name="prefetch">The prefetch trace, or null for none.</param>
    /// <exception cref="InvalidDataException">The parts do not make a valid index.</exception>
    public static BlockIndex Create(
        long diskSize, int blockSize, IReadOnlyList<BlockBlob> blobs, IReadOnlyList<StoredBlock> storedBlocks,
        IReadOnlyList<IReadOnlyList<BlockExtent>> layers, IReadOnlyList<long>? prefetch = null)
    {
        ArgumentNullException.ThrowIfNull(blobs);
        ArgumentNullException.ThrowIfNull(storedBlocks);
        ArgumentNullException.ThrowIfNull(layers);
        int count = storedBlocks.Count;
        var blob = new int[count];
        var offset = new long[count];
        var stored = new int[count];
        var length = new int[count];
        var digests = new byte[count * BlockFormat.DigestBytes];
        for (int i = 0; i < count; i++)
        {
            StoredBlock block = storedBlocks[i];
            if (block.Digest.Algorithm != Digest.Sha256)
            {
                throw new InvalidDataException($"Stored block {i} has a {block.Digest.Algorithm} digest; blocks are addressed by sha256.");
            }

            (blob[i], offset[i], stored[i], length[i]) = (block.Blob, block.CompressedOffset, block.CompressedLength, block.UncompressedLength);
            Convert.FromHexString(block.Digest.Encoded, digests.AsSpan(i * BlockFormat.DigestBytes, BlockFormat.DigestBytes), out _, out _);
        }

        return new BlockIndex(
            diskSize, blockSize, [.. blobs], blob, offset, stored, length, digests, [.. layers.Select(l => l.ToArray())], [.. prefetch ?? []]);
    }

    /// <summary>Returns this index with <paramref name="prefetch"/> as its prefetch trace.</summary>
    public BlockIndex WithPrefetch(IReadOnlyList<long> prefetch)
    {
        ArgumentNullException.ThrowIfNull(prefetch);
        return new BlockIndex(DiskSize, BlockSize, _blobs, _blockBlob, _blockOffset, _blockStored, _blockLength, _blockDigests, _layers, [.. prefetch]);
    }

    /// <summary>
    /// The stack flattened: for every block, the stored block it reads as, or -1 for zeros (upper layers over lower).
    /// </summary>
    /// <summary>
    /// The disk's block map with the layers applied: entry <c>b</c> is the stored block disk block <c>b</c> reads as
    /// (the topmost layer's extent covering it), or -1 where it reads as zeros. A new array each call.
    /// </summary>
    public int[] CreateBlockMap() => Flatten();

    internal int[] Flatten()
    {
        var map = new int[BlockCount];
        Array.Fill(map, -1);
        foreach (BlockExtent[] layer in _layers)
        {
            foreach (BlockExtent extent in layer)
            {
                map.AsSpan((int)extent.FirstBlock, (int)extent.BlockCount).Fill(extent.StoredBlock);
            }
        }

        return map;
    }

    private void Validate()
    {
        if (!BlockFormat.IsValidBlockSize(BlockSize))
        {
            throw new InvalidDataException($"The block size {BlockSize} is not a power of two from {BlockFormat.MinBlockSize} to {BlockFormat.MaxBlockSize}.");
        }

        if (DiskSize <= 0 || DiskSize % BlockSize != 0 || DiskSize / BlockSize > BlockFormat.MaxBlocks)
        {
            throw new InvalidDataException($"The disk size {DiskSize} is not a positive multiple of the block size {BlockSize} of at most {BlockFormat.MaxBlocks} blocks.");
        }

        if (_blobs.Length > BlockFormat.MaxBlobs)
        {
            throw new InvalidDataException($"The index names {_blobs.Length} data blobs; at most {BlockFormat.MaxBlobs} are allowed.");
        }

        foreach (BlockBlob blob in _blobs)
        {
            if (blob.Size < 0 || blob.Digest.IsEmpty)
            {
                throw new InvalidDataException($"Data blob {blob.Digest} has an invalid size {blob.Size}.");
            }
        }

        int count = _blockBlob.Length;
        Debug.Assert(_blockOffset.Length == count && _blockStored.Length == count && _blockLength.Length == count);
        if (_blockDigests.Length != (long)count * BlockFormat.DigestBytes)
        {
            throw new InvalidDataException($"The stored block digests take {_blockDigests.Length} bytes; {count} blocks need {count * (long)BlockFormat.DigestBytes}.");
        }

        for (int i = 0; i < count; i++)
        {
            int blob = _blockBlob[i];
            if ((uint)blob >= (uint)_blobs.Length)
            {
                throw new InvalidDataException($"Stored block {i} refers to data blob {blob}; the index has {_blobs.Length}.");
            }

            if (_blockLength[i] != BlockSize)
            {
                throw new InvalidDataException($"Stored block {i} is {_blockLength[i]} bytes uncompressed, not the block size {BlockSize}.");
            }

            if (_blockStored[i] < 1 || _blockStored[i] > _blockLength[i])
            {
                throw new InvalidDataException($"Stored block {i} is {_blockStored[i]} bytes stored; 1 to {_blockLength[i]} are allowed.");
            }

            if (_blockOffset[i] < 0 || _blockOffset[i] > _blobs[blob].Size - _blockStored[i])
            {
                throw new InvalidDataException($"Stored block {i} ({_blockOffset[i]}+{_blockStored[i]}) lies outside data blob {blob} ({_blobs[blob].Size} bytes).");
            }
        }

        if (_layers.Length is < 1 or > BlockFormat.MaxLayers)
        {
            throw new InvalidDataException($"The index has {_layers.Length} layers; 1 to {BlockFormat.MaxLayers} are allowed.");
        }

        long blocks = BlockCount;
        for (int l = 0; l < _layers.Length; l++)
        {
            long end = 0;
            foreach (BlockExtent extent in _layers[l])
            {
                if (extent.FirstBlock < end || extent.BlockCount < 1 || extent.BlockCount > blocks - extent.FirstBlock)
                {
                    throw new InvalidDataException($"Layer {l} has extent {extent.FirstBlock}+{extent.BlockCount}, out of order, empty or past the disk's {blocks} blocks.");
                }

                if (extent.StoredBlock < -1 || extent.StoredBlock >= count)
                {
                    throw new InvalidDataException($"Layer {l} refers to stored block {extent.StoredBlock}; the index has {count}.");
                }

                end = extent.EndBlock;
            }
        }

        if (_prefetch.Length > blocks)
        {
            throw new InvalidDataException($"The prefetch trace has {_prefetch.Length} blocks, more than the disk's {blocks}.");
        }

        foreach (long block in _prefetch)
        {
            if (block < 0 || block >= blocks)
            {
                throw new InvalidDataException($"The prefetch trace names block {block}, outside the disk's {blocks} blocks.");
            }
        }
    }

    private sealed class StoredBlockList(BlockIndex index) : IReadOnlyList<StoredBlock>
    {
        public StoredBlock this[int i] => (uint)i < (uint)Count ? index.GetStoredBlock(i) : throw new ArgumentOutOfRangeException(nameof(i));

        public int Count => index.StoredBlockCount;

        public IEnumerator<StoredBlock> GetEnumerator()
        {
            for (int i = 0; i < Count; i++)
            {
                yield return index.GetStoredBlock(i);
            }
        }

        System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
    }
}

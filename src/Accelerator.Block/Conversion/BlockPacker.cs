using System.Security.Cryptography;
using Accelerator.Block.Format;
using Accelerator.Chunks.Format;
using Microsoft.Win32.SafeHandles;

namespace Accelerator.Block.Conversion;

/// <summary>
/// Packs blocks into data blobs: each block is hashed, deduplicated against the blocks seen so far (and a table given
/// up front, such as a lower layer's), compressed with zstd (raw when that is not smaller) and appended, in the order
/// given, to the current data blob; a blob is closed at <c>maxBlobBytes</c> and named by its digest. Callers add
/// blocks in address order, so consecutive blocks are consecutive in a blob and a sequential read is one ranged read.
/// Batches are compressed in parallel and appended in order: the output does not depend on the parallelism.
/// </summary>
internal sealed class BlockPacker : IDisposable
{
    private readonly string _directory;
    private readonly int _blockSize;
    private readonly long _maxBlobBytes;
    private readonly int _parallelism;
    private readonly int _firstBlob;
    private readonly Dictionary<ChunkKey, int> _known;
    private readonly List<StoredBlock> _newBlocks = [];
    private readonly List<(BlockBlob Blob, string Path)> _newBlobs = [];
    private readonly ThreadLocal<ZstdSharp.Compressor> _compressors = new(ChunkCodec.CreateCompressor, trackAllValues: true);
    private SafeFileHandle? _blob;
    private string? _blobPath;
    private IncrementalHash? _blobHash;
    private long _blobLength;

    /// <param name="directory">Where the blob files are written (named by the hex of their sha256).</param>
    /// <param name="blockSize">The block size.</param>
    /// <param name="maxBlobBytes">The size at which a blob is closed.</param>
    /// <param name="parallelism">Blocks compressed at once.</param>
    /// <param name="existing">Stored blocks already available (their indexes are kept), or null.</param>
    /// <param name="existingBlobCount">The number of blobs those refer to; new blobs are numbered after them.</param>
    public BlockPacker(string directory, int blockSize, long maxBlobBytes, int parallelism, IReadOnlyList<StoredBlock>? existing = null, int existingBlobCount = 0)
    {
        _directory = directory;
        _blockSize = blockSize;
        _maxBlobBytes = maxBlobBytes;
        _parallelism = Math.Max(1, parallelism);
        _firstBlob = existingBlobCount;
        _known = [];
        Span<byte> raw = stackalloc byte[32];
        for (int i = 0; i < (existing?.Count ?? 0); i++)
        {
            Convert.FromHexString(existing![i].Digest.Encoded, raw, out _, out _);
            _known.TryAdd(ChunkKey.From(raw), i);
        }

        ExistingCount = existing?.Count ?? 0;
    }

    /// <summary>Stored blocks known before packing began.</summary>
    public int ExistingCount { get; }

    /// <summary>Blocks added that matched a block already stored (deduplicated).</summary>
    public long DuplicateBlocks { get; private set; }

    /// <summary>The new stored blocks, numbered after the existing ones.</summary>
    public IReadOnlyList<StoredBlock> NewBlocks => _newBlocks;

    /// <summary>The new data blobs, closed by <see cref="Finish"/>.</summary>
    public IReadOnlyList<(BlockBlob Blob, string Path)> NewBlobs => _newBlobs;

    /// <summary>The stored bytes of the new blocks.</summary>
    public long StoredBytes { get; private set; }

    /// <summary>
    /// Adds a batch of non-zero blocks (each exactly one block long) and returns each one's stored block index.
    /// </summary>
    public int[] AddBatch(IReadOnlyList<ReadOnlyMemory<byte>> blocks)
    {
        int count = blocks.Count;
        var keys = new ChunkKey[count];
        var output = new byte[count][];
        var lengths = new int[count];
        Parallel.For(0, count, new ParallelOptions { MaxDegreeOfParallelism = _parallelism }, i =>
        {
            ReadOnlySpan<byte> data = blocks[i].Span;
            keys[i] = ChunkKey.Compute(data);
            if (_known.ContainsKey(keys[i]))
            {
                return;
            }

            output[i] = new byte[_blockSize];
            lengths[i] = ChunkCodec.Encode(_compressors.Value!, data, output[i]);
        });

        var result = new int[count];
        Span<byte> raw = stackalloc byte[32];
        for (int i = 0; i < count; i++)
        {
            if (_known.TryGetValue(keys[i], out int found))
            {
                DuplicateBlocks++;
                result[i] = found;
                continue;
            }

            (int blob, long offset) = Append(output[i].AsSpan(0, lengths[i]));
            keys[i].CopyTo(raw);
            int index = ExistingCount + _newBlocks.Count;
            _newBlocks.Add(new StoredBlock(blob, offset, lengths[i], _blockSize, Digest.FromHash(Digest.Sha256, raw)));
            _known.Add(keys[i], index);
            result[i] = index;
        }

        return result;
    }

    /// <summary>Closes the last blob.</summary>
    public void Finish() => CloseBlob();

    private (int Blob, long Offset) Append(ReadOnlySpan<byte> stored)
    {
        if (_blob is not null && _blobLength + stored.Length > _maxBlobBytes)
        {
            CloseBlob();
        }

        if (_blob is null)
        {
            _blobPath = Path.Combine(_directory, $"blob-{_newBlobs.Count}.partial");
            _blob = File.OpenHandle(_blobPath, FileMode.CreateNew, FileAccess.Write);
            _blobHash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            _blobLength = 0;
        }

        long offset = _blobLength;
        RandomAccess.Write(_blob, stored, offset);
        _blobHash!.AppendData(stored);
        _blobLength += stored.Length;
        StoredBytes += stored.Length;
        return (_firstBlob + _newBlobs.Count, offset);
    }

    private void CloseBlob()
    {
        if (_blob is null)
        {
            return;
        }

        _blob.Dispose();
        _blob = null;
        var digest = Digest.FromHash(Digest.Sha256, _blobHash!.GetHashAndReset());
        _blobHash.Dispose();
        string path = Path.Combine(_directory, digest.Encoded);
        File.Move(_blobPath!, path, overwrite: true);
        _newBlobs.Add((new BlockBlob(digest, _blobLength), path));
    }

    public void Dispose()
    {
        _blob?.Dispose();
        _blobHash?.Dispose();
        foreach (var compressor in _compressors.Values)
        {
            compressor.Dispose();
        }

        _compressors.Dispose();
    }
}

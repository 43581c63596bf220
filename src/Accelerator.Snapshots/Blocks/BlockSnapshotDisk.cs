using System.Buffers;
using System.Security.Cryptography;
using Accelerator.Block;
using Accelerator.Block.Format;
using Microsoft.Win32.SafeHandles;

namespace Accelerator.Snapshots.Blocks;

/// <summary>
/// The read-only disk of a block-stack snapshot: a flattened disk file in the store (zero blocks left as holes) read
/// through its block index, so that every block is checked against the index's sha256 before any byte of it is served
/// (once per opened disk; a block that does not match fails the read with an <see cref="IOException"/>), and blocks the
/// index says are zero read as zeros whatever the file holds. Opening reads only the index: the time does not grow
/// with the disk's size beyond the index (32 bytes per stored block).
/// </summary>
internal sealed class BlockSnapshotDisk : IVirtualDisk
{
    private readonly SafeFileHandle _file;
    private readonly BlockIndex _index;
    private readonly int[] _map;
    private readonly byte[] _verified;
    private readonly string _name;
    private int _disposed;

    private BlockSnapshotDisk(SafeFileHandle file, BlockIndex index, string name)
    {
        _file = file;
        _index = index;
        _map = index.CreateBlockMap();
        _verified = new byte[index.StoredBlockCount];
        _name = name;
    }

    public long Size => _index.DiskSize;

    public bool IsReadOnly => true;

    public int BlockSize => _index.BlockSize;

    private int _corruptBlocks;

    /// <summary>Blocks found not to match their digest (each read of one fails).</summary>
    public int CorruptBlocks => Volatile.Read(ref _corruptBlocks);

    /// <summary>
    /// Opens the disk in <paramref name="directory"/> (files <paramref name="diskFile"/> and <paramref name="indexFile"/>);
    /// the index must hash to <paramref name="indexDigest"/>.
    /// </summary>
    /// <exception cref="InvalidDataException">The index does not match its digest or is invalid, or the disk file is too short.</exception>
    public static BlockSnapshotDisk Open(string directory, string diskFile, string indexFile, Digest indexDigest)
    {
        string indexPath = Path.Combine(directory, indexFile);
        var info = new FileInfo(indexPath);
        if (info.Length is 0 or > BlockFormat.MaxIndexBodyBytes)
        {
            throw new InvalidDataException($"The block index {indexPath} is empty or larger than {BlockFormat.MaxIndexBodyBytes} bytes.");
        }

        byte[] bytes = File.ReadAllBytes(indexPath);
        if (Digest.Compute(bytes) != indexDigest)
        {
            throw new InvalidDataException($"The block index {indexPath} does not match its digest {indexDigest}.");
        }

        var index = BlockIndex.Read(bytes);
        var file = File.OpenHandle(Path.Combine(directory, diskFile), FileMode.Open, FileAccess.Read, FileShare.Read, FileOptions.Asynchronous);
        try
        {
            if (RandomAccess.GetLength(file) != index.DiskSize)
            {
                throw new InvalidDataException($"The disk file in {directory} is {RandomAccess.GetLength(file)} bytes; its index says {index.DiskSize}.");
            }

            return new BlockSnapshotDisk(file, index, directory);
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    public async ValueTask ReadAsync(long offset, Memory<byte> destination, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        if (offset < 0 || destination.Length > Size - offset)
        {
            throw new ArgumentOutOfRangeException(nameof(offset), offset, $"The range is outside the disk's {Size} bytes.");
        }

        if (destination.IsEmpty)
        {
            return;
        }

        // One read of the whole range; then each block is checked (the first time) or replaced by zeros.
        await ReadExactlyAsync(offset, destination, cancellationToken).ConfigureAwait(false);
        int bs = BlockSize;
        long end = offset + destination.Length;
        for (long block = offset / bs; block * bs < end; block++)
        {
            long blockStart = block * bs;
            int from = (int)(Math.Max(blockStart, offset) - offset);
            int to = (int)(Math.Min(blockStart + bs, end) - offset);
            int stored = _map[block];
            if (stored < 0)
            {
                destination.Span[from..to].Clear();
                continue;
            }

            if (Volatile.Read(ref _verified[stored]) != 0)
            {
                continue;
            }

            var expected = _index.GetStoredBlock(stored);
            if (to - from == expected.UncompressedLength && blockStart >= offset)
            {
                Verify(destination.Span[from..to], expected, block);
            }
            else
            {
                // A partial block: read all of it to check it, and serve the checked bytes.
                byte[] whole = ArrayPool<byte>.Shared.Rent(expected.UncompressedLength);
                try
                {
                    Memory<byte> buffer = whole.AsMemory(0, expected.UncompressedLength);
                    await ReadExactlyAsync(blockStart, buffer, cancellationToken).ConfigureAwait(false);
                    Verify(buffer.Span, expected, block);
                    buffer.Span.Slice((int)(offset + from - blockStart), to - from).CopyTo(destination.Span[from..to]);
                }
                finally
                {
                    ArrayPool<byte>.Shared.Return(whole);
                }
            }

            Volatile.Write(ref _verified[stored], 1);
        }
    }

    private void Verify(ReadOnlySpan<byte> content, in StoredBlock expected, long block)
    {
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(content, hash);
        if (Digest.FromHash(Digest.Sha256, hash) != expected.Digest)
        {
            Interlocked.Increment(ref _corruptBlocks);
            throw new IOException($"Block {block} of the snapshot disk in {_name} does not match its digest {expected.Digest}; the snapshot is corrupt (evict it and warm again).");
        }
    }

    private async ValueTask ReadExactlyAsync(long offset, Memory<byte> buffer, CancellationToken cancellationToken)
    {
        int done = 0;
        while (done < buffer.Length)
        {
            int n = await RandomAccess.ReadAsync(_file, buffer[done..], offset + done, cancellationToken).ConfigureAwait(false);
            if (n == 0)
            {
                throw new IOException($"The snapshot disk in {_name} ended at {offset + done} bytes.");
            }

            done += n;
        }
    }

    public ValueTask WriteAsync(long offset, ReadOnlyMemory<byte> source, CancellationToken cancellationToken = default)
        => throw new NotSupportedException("A snapshot's disk is read-only.");

    public ValueTask FlushAsync(CancellationToken cancellationToken = default) => default;

    public ValueTask TrimAsync(long offset, long length, CancellationToken cancellationToken = default)
        => throw new NotSupportedException("A snapshot's disk is read-only.");

    public ValueTask WriteZeroesAsync(long offset, long length, CancellationToken cancellationToken = default)
        => throw new NotSupportedException("A snapshot's disk is read-only.");

    public ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            _file.Dispose();
        }

        return default;
    }
}

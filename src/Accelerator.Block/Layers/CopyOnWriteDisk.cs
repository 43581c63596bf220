using System.Buffers;
using System.Buffers.Binary;
using System.Text;
using Microsoft.Win32.SafeHandles;

namespace Accelerator.Block.Layers;

/// <summary>
/// A writable virtual disk: a copy-on-write layer in a local directory over a read-only lower disk (a
/// <see cref="BlockLayerStack"/>, or any <see cref="IVirtualDisk"/>). Writes go to a sparse data file at block
/// granularity — a partial write to a block not yet in the layer first copies the block up from the lower disk (or
/// zeros) — and each block's state (lower, in the layer, or zeros) is kept in a map; reads fall through to the lower
/// disk for blocks the layer does not hold. Trim and write-zeroes of whole blocks only mark them zero, so they cost
/// no space and hide the lower disk. <see cref="FlushAsync"/> makes the data and the map durable; reopening the
/// directory over the same lower disk continues the layer. A stack with its layer can be frozen into a new read-only
/// layer (<see cref="BlockLayerFreezer"/>).
/// </summary>
/// <remarks>Thread-safe: writes to different parts of one block are serialised by a per-block lock.</remarks>
public sealed class CopyOnWriteDisk : IVirtualDisk
{
    /// <summary>The data file in the layer directory.</summary>
    public const string DataFileName = "data";

    /// <summary>The block map file in the layer directory.</summary>
    public const string MapFileName = "map";

    // The map file: "ACCELCOW", version (uint32 LE), block size (uint32 LE), disk size (int64 LE), the lower disk's
    // identity (uint16 LE length + UTF-8), then one state byte per block.
    private static ReadOnlySpan<byte> Magic => "ACCELCOW"u8;
    private const int MapVersion = 1;

    private readonly IVirtualDisk _lower;
    private readonly bool _ownsLower;
    private readonly SafeFileHandle _data;
    private readonly byte[] _states;
    private readonly SemaphoreSlim[] _locks = [.. Enumerable.Range(0, 64).Select(_ => new SemaphoreSlim(1, 1))];
    private readonly object _mapSync = new();
    private readonly string _identity;
    private int _disposed;
    private int _dirty;

    private CopyOnWriteDisk(IVirtualDisk lower, bool ownsLower, string directory, SafeFileHandle data, byte[] states, string identity)
    {
        _lower = lower;
        _ownsLower = ownsLower;
        Directory = directory;
        _data = data;
        _states = states;
        _identity = identity;
    }

    /// <summary>The state of one block of the layer.</summary>
    public enum BlockState : byte
    {
        /// <summary>Not in the layer: reads fall through to the lower disk.</summary>
        Lower = 0,

        /// <summary>In the layer's data file.</summary>
        Data = 1,

        /// <summary>Zeros (trimmed or written with zeros), hiding the lower disk.</summary>
        Zero = 2,
    }

    /// <summary>The layer directory.</summary>
    public string Directory { get; }

    /// <summary>The lower disk.</summary>
    public IVirtualDisk Lower => _lower;

    /// <inheritdoc />
    public long Size => _lower.Size;

    /// <inheritdoc />
    public bool IsReadOnly => false;

    /// <inheritdoc />
    public int BlockSize => _lower.BlockSize;

    /// <summary>The number of blocks.</summary>
    public long BlockCount => Size / BlockSize;

    /// <summary>
    /// Opens the layer in <paramref name="directory"/> over <paramref name="lower"/>, continuing it when its map is
    /// there and matches (size, block size, <paramref name="lowerIdentity"/>), starting it empty when there is none.
    /// </summary>
    /// <param name="lower">The read-only disk below; its size must be a multiple of its block size.</param>
    /// <param name="directory">The layer directory (created when missing).</param>
    /// <param name="lowerIdentity">What identifies the lower disk (for a block image, its index digest); a layer made over another disk is refused.</param>
    /// <param name="ownsLower">Whether disposing the layer disposes the lower disk.</param>
    /// <exception cref="InvalidDataException">The directory holds a layer of another disk, or a damaged map.</exception>
    public static CopyOnWriteDisk Open(IVirtualDisk lower, string directory, string lowerIdentity = "", bool ownsLower = false)
    {
        ArgumentNullException.ThrowIfNull(lower);
        ArgumentException.ThrowIfNullOrEmpty(directory);
        ArgumentNullException.ThrowIfNull(lowerIdentity);
        if (lower.Size % lower.BlockSize != 0)
        {
            throw new ArgumentException($"The lower disk's size {lower.Size} is not a multiple of its block size {lower.BlockSize}.", nameof(lower));
        }

        if (Encoding.UTF8.GetByteCount(lowerIdentity) > ushort.MaxValue)
        {
            throw new ArgumentException("The lower identity is too long.", nameof(lowerIdentity));
        }

        string full = Path.GetFullPath(directory);
        System.IO.Directory.CreateDirectory(full);
        long blocks = lower.Size / lower.BlockSize;
        if (blocks > int.MaxValue)
        {
            throw new ArgumentException("The lower disk has too many blocks for a copy-on-write layer.", nameof(lower));
        }

        string mapPath = Path.Combine(full, MapFileName);
        byte[] states = File.Exists(mapPath) ? ReadMap(mapPath, lower, lowerIdentity, (int)blocks) : new byte[blocks];
        SafeFileHandle data = File.OpenHandle(Path.Combine(full, DataFileName), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        if (RandomAccess.GetLength(data) != lower.Size)
        {
            RandomAccess.SetLength(data, lower.Size);
        }

        var disk = new CopyOnWriteDisk(lower, ownsLower, full, data, states, lowerIdentity);
        if (!File.Exists(mapPath))
        {
            disk.WriteMap();
        }

        return disk;
    }

    /// <summary>The state of block <paramref name="block"/>.</summary>
    public BlockState GetState(long block) => (BlockState)Volatile.Read(ref _states[block]);

    /// <summary>Blocks the layer holds (data or zeros).</summary>
    public long ChangedBlocks => _states.LongCount(s => s != 0);

    /// <summary>Reads a whole block from the data file (the block must be <see cref="BlockState.Data"/>).</summary>
    internal void ReadDataBlock(long block, Span<byte> destination) => ReadData(block * BlockSize, destination[..BlockSize]);

    /// <inheritdoc />
    public async ValueTask ReadAsync(long offset, Memory<byte> destination, CancellationToken cancellationToken = default)
    {
        DiskRange.Check(offset, destination.Length, Size);
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        int bs = BlockSize;
        int done = 0;
        while (done < destination.Length)
        {
            long position = offset + done;
            long block = position / bs;
            var state = GetState(block);

            // A run of blocks in the same state is one call.
            int count = Math.Min(bs - (int)(position % bs), destination.Length - done);
            while (done + count < destination.Length && GetState((position + count) / bs) == state)
            {
                count = Math.Min(count + bs, destination.Length - done);
            }

            Memory<byte> piece = destination.Slice(done, count);
            switch (state)
            {
                case BlockState.Data:
                    ReadData(position, piece.Span);
                    break;
                case BlockState.Zero:
                    piece.Span.Clear();
                    break;
                default:
                    await _lower.ReadAsync(position, piece, cancellationToken).ConfigureAwait(false);
                    break;
            }

            done += count;
        }
    }

    /// <inheritdoc />
    public async ValueTask WriteAsync(long offset, ReadOnlyMemory<byte> source, CancellationToken cancellationToken = default)
    {
        DiskRange.Check(offset, source.Length, Size);
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        int bs = BlockSize;
        int done = 0;
        while (done < source.Length)
        {
            long position = offset + done;
            long block = position / bs;
            int within = (int)(position % bs);
            int count = Math.Min(bs - within, source.Length - done);
            await WriteBlockAsync(block, within, source.Slice(done, count), cancellationToken).ConfigureAwait(false);
            done += count;
        }
    }

    /// <inheritdoc />
    public ValueTask TrimAsync(long offset, long length, CancellationToken cancellationToken = default) => ZeroAsync(offset, length, cancellationToken);

    /// <inheritdoc />
    public ValueTask WriteZeroesAsync(long offset, long length, CancellationToken cancellationToken = default) => ZeroAsync(offset, length, cancellationToken);

    /// <summary>Makes the data file and the block map durable.</summary>
    public ValueTask FlushAsync(CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        RandomAccess.FlushToDisk(_data);
        if (Interlocked.Exchange(ref _dirty, 0) != 0)
        {
            WriteMap();
        }

        return default;
    }

    /// <summary>Flushes and closes the layer (its files stay); disposes the lower disk when the layer owns it.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        if (Interlocked.Exchange(ref _dirty, 0) != 0)
        {
            WriteMap();
        }

        _data.Dispose();
        foreach (SemaphoreSlim gate in _locks)
        {
            gate.Dispose();
        }

        if (_ownsLower)
        {
            await _lower.DisposeAsync().ConfigureAwait(false);
        }
    }

    private async ValueTask ZeroAsync(long offset, long length, CancellationToken cancellationToken)
    {
        DiskRange.Check(offset, length, Size);
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        int bs = BlockSize;
        long done = 0;
        byte[]? zeros = null;
        while (done < length)
        {
            long position = offset + done;
            long block = position / bs;
            int within = (int)(position % bs);
            int count = (int)Math.Min(bs - within, length - done);
            if (count == bs)
            {
                SemaphoreSlim gate = _locks[block % _locks.Length];
                await gate.WaitAsync(cancellationToken).ConfigureAwait(false);
                try
                {
                    SetState(block, BlockState.Zero);
                }
                finally
                {
                    gate.Release();
                }
            }
            else
            {
                zeros ??= new byte[bs];
                await WriteBlockAsync(block, within, zeros.AsMemory(0, count), cancellationToken).ConfigureAwait(false);
            }

            done += count;
        }
    }

    // Writes part or all of one block: a partial write to a block not in the layer copies it up first.
    private async ValueTask WriteBlockAsync(long block, int within, ReadOnlyMemory<byte> source, CancellationToken cancellationToken)
    {
        int bs = BlockSize;
        long start = block * bs;
        SemaphoreSlim gate = _locks[block % _locks.Length];
        await gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            BlockState state = GetState(block);
            if (source.Length == bs || state == BlockState.Data)
            {
                RandomAccess.Write(_data, source.Span, start + within);
            }
            else
            {
                byte[] buffer = ArrayPool<byte>.Shared.Rent(bs);
                try
                {
                    if (state == BlockState.Zero)
                    {
                        buffer.AsSpan(0, bs).Clear();
                    }
                    else
                    {
                        await _lower.ReadAsync(start, buffer.AsMemory(0, bs), cancellationToken).ConfigureAwait(false);
                    }

                    source.Span.CopyTo(buffer.AsSpan(within));
                    RandomAccess.Write(_data, buffer.AsSpan(0, bs), start);
                }
                finally
                {
                    ArrayPool<byte>.Shared.Return(buffer);
                }
            }

            // The state changes only after the block's bytes are in the data file, so a concurrent read of another
            // part of the block sees either the lower bytes or the whole copied block.
            SetState(block, BlockState.Data);
        }
        finally
        {
            gate.Release();
        }
    }

    private void SetState(long block, BlockState state)
    {
        if (GetState(block) != state)
        {
            Volatile.Write(ref _states[block], (byte)state);
            Volatile.Write(ref _dirty, 1);
        }
    }

    private void ReadData(long position, Span<byte> destination)
    {
        int total = 0;
        while (total < destination.Length)
        {
            int n = RandomAccess.Read(_data, destination[total..], position + total);
            if (n == 0)
            {
                throw new IOException($"The copy-on-write data file in {Directory} is shorter than the disk.");
            }

            total += n;
        }
    }

    private void WriteMap()
    {
        lock (_mapSync)
        {
            byte[] identity = Encoding.UTF8.GetBytes(_identity);
            byte[] header = new byte[Magic.Length + 4 + 4 + 8 + 2 + identity.Length];
            Magic.CopyTo(header);
            BinaryPrimitives.WriteUInt32LittleEndian(header.AsSpan(8), MapVersion);
            BinaryPrimitives.WriteUInt32LittleEndian(header.AsSpan(12), (uint)BlockSize);
            BinaryPrimitives.WriteInt64LittleEndian(header.AsSpan(16), Size);
            BinaryPrimitives.WriteUInt16LittleEndian(header.AsSpan(24), (ushort)identity.Length);
            identity.CopyTo(header, 26);
            string path = Path.Combine(Directory, MapFileName);
            string temporary = path + ".tmp";
            using (var file = File.OpenHandle(temporary, FileMode.Create, FileAccess.Write))
            {
                RandomAccess.Write(file, header, 0);
                RandomAccess.Write(file, _states, header.Length);
                RandomAccess.FlushToDisk(file);
            }

            File.Move(temporary, path, overwrite: true);
        }
    }

    private static byte[] ReadMap(string path, IVirtualDisk lower, string identity, int blocks)
    {
        byte[] map = File.ReadAllBytes(path);
        ReadOnlySpan<byte> span = map;
        if (span.Length < 26 || !span[..8].SequenceEqual(Magic) || BinaryPrimitives.ReadUInt32LittleEndian(span[8..]) != MapVersion)
        {
            throw new InvalidDataException($"{path} is not a copy-on-write block map of version {MapVersion}.");
        }

        uint blockSize = BinaryPrimitives.ReadUInt32LittleEndian(span[12..]);
        long size = BinaryPrimitives.ReadInt64LittleEndian(span[16..]);
        int length = BinaryPrimitives.ReadUInt16LittleEndian(span[24..]);
        if (span.Length != 26L + length + blocks)
        {
            throw new InvalidDataException($"{path} is {span.Length} bytes; a map of {blocks} blocks with its header has {26L + length + blocks}.");
        }

        string recorded = Encoding.UTF8.GetString(span.Slice(26, length));
        if (blockSize != lower.BlockSize || size != lower.Size || recorded != identity)
        {
            throw new InvalidDataException(
                $"The copy-on-write layer in {Path.GetDirectoryName(path)} was made over another disk ({size} bytes, {blockSize}-byte blocks, '{recorded}'), not this one ({lower.Size}, {lower.BlockSize}, '{identity}').");
        }

        byte[] states = span[(26 + length)..].ToArray();
        if (states.AsSpan().IndexOfAnyExcept((byte)0, (byte)1, (byte)2) >= 0)
        {
            throw new InvalidDataException($"{path} holds an unknown block state.");
        }

        return states;
    }
}

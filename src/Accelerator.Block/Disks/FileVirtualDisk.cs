using Microsoft.Win32.SafeHandles;

namespace Accelerator.Block.Disks;

/// <summary>
/// A raw disk image file as an <see cref="IVirtualDisk"/>: byte <c>n</c> of the disk is byte <c>n</c> of the file.
/// Read-only or writable; trims punch holes and write-zeroes use <c>fallocate(2)</c> where the file system supports it.
/// </summary>
public sealed partial class FileVirtualDisk : IVirtualDisk
{
    private const int ZeroChunk = 1024 * 1024;

    private readonly SafeFileHandle _handle;
    private int _disposed;

    private FileVirtualDisk(string path, SafeFileHandle handle, bool readOnly, int blockSize)
    {
        Path = path;
        _handle = handle;
        IsReadOnly = readOnly;
        BlockSize = blockSize;
        Size = RandomAccess.GetLength(handle);
    }

    /// <summary>The image file.</summary>
    public string Path { get; }

    /// <inheritdoc />
    public long Size { get; }

    /// <inheritdoc />
    public bool IsReadOnly { get; }

    /// <inheritdoc />
    public int BlockSize { get; }

    /// <summary>Opens an existing image file; its length is the disk's size.</summary>
    /// <param name="path">The image file.</param>
    /// <param name="writable">Open for writing (otherwise writes are refused).</param>
    /// <param name="blockSize">The preferred I/O size reported (a power of two, at least 512).</param>
    /// <exception cref="FileNotFoundException">There is no such file.</exception>
    /// <exception cref="ArgumentOutOfRangeException">The block size is not a power of two of at least 512.</exception>
    public static FileVirtualDisk Open(string path, bool writable = false, int blockSize = 4096)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (blockSize < 512 || (blockSize & (blockSize - 1)) != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(blockSize), blockSize, "The block size must be a power of two of at least 512.");
        }

        string full = System.IO.Path.GetFullPath(path);
        var handle = File.OpenHandle(full, FileMode.Open, writable ? FileAccess.ReadWrite : FileAccess.Read, writable ? FileShare.Read : FileShare.ReadWrite);
        return new FileVirtualDisk(full, handle, !writable, blockSize);
    }

    /// <summary>Creates a sparse, zero-filled image file of <paramref name="size"/> bytes and opens it writable.</summary>
    /// <exception cref="IOException">The file exists.</exception>
    public static FileVirtualDisk Create(string path, long size, int blockSize = 4096)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(size);
        using (var handle = File.OpenHandle(path, FileMode.CreateNew, FileAccess.ReadWrite))
        {
            RandomAccess.SetLength(handle, size);
        }

        return Open(path, writable: true, blockSize);
    }

    /// <inheritdoc />
    /// <remarks>
    /// Bytes already in the page cache are copied at once, on the calling thread (preadv2 with RWF_NOWAIT); only what must
    /// come from the device is read on the thread pool. A warm read thus costs no thread hop.
    /// </remarks>
    public ValueTask ReadAsync(long offset, Memory<byte> destination, CancellationToken cancellationToken = default)
    {
        CheckRange(offset, destination.Length);
        int cached = TryReadCached(offset, destination.Span);
        if (cached == destination.Length)
        {
            return ValueTask.CompletedTask;
        }

        return ReadFromDeviceAsync(offset + cached, destination[cached..], cancellationToken);
    }

    private async ValueTask ReadFromDeviceAsync(long offset, Memory<byte> destination, CancellationToken cancellationToken)
    {
        while (!destination.IsEmpty)
        {
            int n = await RandomAccess.ReadAsync(_handle, destination, offset, cancellationToken).ConfigureAwait(false);
            if (n == 0)
            {
                throw new IOException($"'{Path}' ended at {offset}, inside the disk's {Size} bytes (was it truncated?).");
            }

            offset += n;
            destination = destination[n..];
        }
    }

    /// <inheritdoc />
    public ValueTask WriteAsync(long offset, ReadOnlyMemory<byte> source, CancellationToken cancellationToken = default)
    {
        CheckWritable();
        CheckRange(offset, source.Length);
        return RandomAccess.WriteAsync(_handle, source, offset, cancellationToken);
    }

    /// <inheritdoc />
    public ValueTask FlushAsync(CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        if (IsReadOnly)
        {
            return ValueTask.CompletedTask;
        }

        return new ValueTask(Task.Run(() => Sync(_handle), cancellationToken));
    }

    /// <inheritdoc />
    public ValueTask TrimAsync(long offset, long length, CancellationToken cancellationToken = default)
    {
        CheckWritable();
        CheckRange(offset, length);
        return TryAllocate(FallocPunchHole | FallocKeepSize, offset, length) ? ValueTask.CompletedTask : WriteZeroChunksAsync(offset, length, cancellationToken);
    }

    /// <inheritdoc />
    public ValueTask WriteZeroesAsync(long offset, long length, CancellationToken cancellationToken = default)
    {
        CheckWritable();
        CheckRange(offset, length);
        return TryAllocate(FallocZeroRange | FallocKeepSize, offset, length) ? ValueTask.CompletedTask : WriteZeroChunksAsync(offset, length, cancellationToken);
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            _handle.Dispose();
        }

        return ValueTask.CompletedTask;
    }

    private async ValueTask WriteZeroChunksAsync(long offset, long length, CancellationToken cancellationToken)
    {
        byte[] zeros = new byte[(int)Math.Min(length, ZeroChunk)];
        while (length > 0)
        {
            int chunk = (int)Math.Min(length, zeros.Length);
            await RandomAccess.WriteAsync(_handle, zeros.AsMemory(0, chunk), offset, cancellationToken).ConfigureAwait(false);
            offset += chunk;
            length -= chunk;
        }
    }

    private void CheckWritable()
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        if (IsReadOnly)
        {
            throw new NotSupportedException($"The disk '{Path}' is read-only.");
        }
    }

    private void CheckRange(long offset, long length)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        if (offset < 0 || length < 0 || offset > Size - length)
        {
            throw new ArgumentOutOfRangeException(nameof(offset), $"[{offset}, +{length}) is outside the disk's {Size} bytes.");
        }
    }
}

namespace Accelerator.Block;

/// <summary>
/// A virtual disk: a fixed-size, byte-addressed device. The NBD server and the loop-device mounter serve any
/// implementation; the block image (a stack of content-addressed block layers fetched on demand) is one.
/// </summary>
/// <remarks>
/// Errors: an offset or length outside <c>[0, Size)</c> throws <see cref="ArgumentOutOfRangeException"/>; a write,
/// trim or write-zeroes on a read-only disk throws <see cref="NotSupportedException"/>; a backend that cannot produce
/// verified bytes throws <see cref="IOException"/> (never returns zeros in their place). Implementations are safe for
/// concurrent calls on non-overlapping ranges.
/// </remarks>
public interface IVirtualDisk : IAsyncDisposable
{
    /// <summary>The size of the disk in bytes.</summary>
    long Size { get; }

    /// <summary>Whether writes, trims and write-zeroes are refused.</summary>
    bool IsReadOnly { get; }

    /// <summary>The preferred I/O granularity in bytes (a power of two, at least 512).</summary>
    int BlockSize { get; }

    /// <summary>Fills <paramref name="destination"/> with the bytes at <paramref name="offset"/>.</summary>
    ValueTask ReadAsync(long offset, Memory<byte> destination, CancellationToken cancellationToken = default);

    /// <summary>Writes <paramref name="source"/> at <paramref name="offset"/>.</summary>
    ValueTask WriteAsync(long offset, ReadOnlyMemory<byte> source, CancellationToken cancellationToken = default);

    /// <summary>Makes every completed write durable.</summary>
    ValueTask FlushAsync(CancellationToken cancellationToken = default);

    /// <summary>Discards a range: later reads of it return zeros.</summary>
    ValueTask TrimAsync(long offset, long length, CancellationToken cancellationToken = default);

    /// <summary>Writes zeros over a range.</summary>
    ValueTask WriteZeroesAsync(long offset, long length, CancellationToken cancellationToken = default);
}

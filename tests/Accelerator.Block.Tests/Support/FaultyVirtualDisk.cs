using Accelerator.Block;

namespace Accelerator.Block.Tests.Support;

/// <summary>
/// A test double for a backend that fails (a registry answering 500 for a block): wraps a real disk and throws
/// <see cref="IOException"/> for reads that touch <see cref="FailingRange"/>, as <see cref="IVirtualDisk"/> says a
/// disk that cannot produce verified bytes must.
/// </summary>
internal sealed class FaultyVirtualDisk(IVirtualDisk inner) : IVirtualDisk
{
    private long _failures;

    /// <summary>Reads overlapping this byte range fail; null lets every read through.</summary>
    public (long Offset, long Length)? FailingRange { get; set; }

    public long Failures => Interlocked.Read(ref _failures);

    public long Size => inner.Size;

    public bool IsReadOnly => inner.IsReadOnly;

    public int BlockSize => inner.BlockSize;

    public ValueTask ReadAsync(long offset, Memory<byte> destination, CancellationToken cancellationToken = default)
    {
        if (FailingRange is { } range && offset < range.Offset + range.Length && range.Offset < offset + destination.Length)
        {
            Interlocked.Increment(ref _failures);
            throw new IOException($"The backend answered 500 for the block at {offset}.");
        }

        return inner.ReadAsync(offset, destination, cancellationToken);
    }

    public ValueTask WriteAsync(long offset, ReadOnlyMemory<byte> source, CancellationToken cancellationToken = default) => inner.WriteAsync(offset, source, cancellationToken);

    public ValueTask FlushAsync(CancellationToken cancellationToken = default) => inner.FlushAsync(cancellationToken);

    public ValueTask TrimAsync(long offset, long length, CancellationToken cancellationToken = default) => inner.TrimAsync(offset, length, cancellationToken);

    public ValueTask WriteZeroesAsync(long offset, long length, CancellationToken cancellationToken = default) => inner.WriteZeroesAsync(offset, length, cancellationToken);

    public ValueTask DisposeAsync() => inner.DisposeAsync();
}

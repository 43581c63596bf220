using Accelerator.Fuse.FileSystem;
using Accelerator.Seekable.Reading;

namespace Accelerator.Lazy.Seekable;

/// <summary>
/// A seekable mount's file content as FUSE serves it: the reader's verified units, until <see cref="Fail"/> (the index
/// lied, <c>--verify-index</c>) — from then on every read fails, which the FUSE session answers with EIO.
/// </summary>
internal sealed class SeekableMountContent(SeekableContentReader reader) : IFileContentReader
{
    private volatile string? _failure;

    /// <summary>Why reads fail, or null while they are served.</summary>
    public string? Failure => _failure;

    /// <summary>Fails every further read with <paramref name="reason"/>.</summary>
    public void Fail(string reason) => _failure = reason;

    public ValueTask<int> ReadAsync(ulong inode, long offset, Memory<byte> buffer, CancellationToken cancellationToken)
        => _failure is { } failure
            ? ValueTask.FromException<int>(new IOException($"Reads of this mount are refused: {failure}"))
            : reader.ReadAsync(inode, offset, buffer, cancellationToken);
}

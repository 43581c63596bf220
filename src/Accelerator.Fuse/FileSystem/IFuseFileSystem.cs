using Accelerator.Linux;

namespace Accelerator.Fuse.FileSystem;

/// <summary>
/// A read-only, immutable file tree served by a <see cref="FuseSession"/>: the operations every tree needs. Optional
/// capabilities are separate interfaces the session looks for with <c>is</c>: <see cref="IFuseExtendedAttributes"/>
/// and <see cref="IFuseStatfs"/>.
/// </summary>
/// <remarks>
/// The metadata operations are synchronous: an image's metadata is in memory once mounted, and the session calls them
/// on its reader threads. Only content is read asynchronously, since it may come from the network; the session
/// applies its interrupt handling and request timeout to <see cref="ReadAsync"/>. Methods signal "no such node" with
/// null and other errors with <see cref="FuseErrorException"/> (its errno is replied) or any exception (EIO).
/// </remarks>
public interface IFuseFileSystem
{
    /// <summary>The attributes of node <paramref name="nodeId"/>, or null when there is no such node.</summary>
    FuseAttributes? GetAttributes(ulong nodeId);

    /// <summary>Looks up <paramref name="name"/> in directory <paramref name="parentNodeId"/>; null when absent.</summary>
    FuseAttributes? Lookup(ulong parentNodeId, string name);

    /// <summary>The target of symlink <paramref name="nodeId"/>, as raw bytes; null when it is not a symlink.</summary>
    byte[]? ReadLink(ulong nodeId);

    /// <summary>
    /// The entries of directory <paramref name="nodeId"/> in a stable order, beginning with "." and ".."; null when it
    /// is not a directory. The session asks once per open directory and pages through the list.
    /// </summary>
    IReadOnlyList<FuseDirectoryEntry>? ReadDirectory(ulong nodeId);

    /// <summary>
    /// Reads the content of regular file <paramref name="nodeId"/> at <paramref name="offset"/>: fills
    /// <paramref name="buffer"/> except at the end of the file, and returns the bytes read (0 at or past the end). A
    /// file system must never return bytes it could not verify; it fails the read instead.
    /// </summary>
    ValueTask<int> ReadAsync(ulong nodeId, long offset, Memory<byte> buffer, CancellationToken cancellationToken);
}

/// <summary>The extended attributes of a tree's nodes (GETXATTR and LISTXATTR); without it both answer ENOSYS.</summary>
public interface IFuseExtendedAttributes
{
    /// <summary>The names of the attributes of <paramref name="nodeId"/> (empty when none).</summary>
    IReadOnlyList<string> ListExtendedAttributes(ulong nodeId);

    /// <summary>The value of attribute <paramref name="name"/> of <paramref name="nodeId"/>, or null when absent (ENODATA).</summary>
    byte[]? GetExtendedAttribute(ulong nodeId, string name);
}

/// <summary>File system totals for <c>statfs</c>; without it STATFS reports an empty file system.</summary>
public interface IFuseStatfs
{
    /// <summary>The totals.</summary>
    FuseFileSystemStatistics StatFs();
}

/// <summary>
/// An error with a specific errno, thrown by a file system to have the session reply with it (for example ENOTDIR or
/// EACCES); other exceptions are replied as EIO.
/// </summary>
public sealed class FuseErrorException : IOException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="errno">The positive errno, 1 to 4095.</param>
    /// <param name="message">What went wrong.</param>
    public FuseErrorException(int errno, string? message = null)
        : base(message ?? $"FUSE error {errno}.")
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(errno, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(errno, Accelerator.Linux.Errno.MaxErrno);
        Errno = errno;
    }

    /// <summary>The errno replied.</summary>
    public int Errno { get; }
}

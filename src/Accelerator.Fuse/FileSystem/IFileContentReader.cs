namespace Accelerator.Fuse.FileSystem;

/// <summary>
/// Reads the content of a tree's regular files by inode: what a lazy mount supplies (chunk reads through its cache)
/// next to the <see cref="IChunkIndex"/>, and what a directory-backed tree does with pread.
/// </summary>
public interface IFileContentReader
{
    /// <summary>
    /// Reads bytes of file <paramref name="inode"/> (an <see cref="IChunkIndex"/> inode) at <paramref name="offset"/>
    /// into <paramref name="buffer"/>; returns the count read, which may be short, and 0 only at the end of the file.
    /// Called only for ranges within the file's size. Must not return bytes it did not verify.
    /// </summary>
    ValueTask<int> ReadAsync(ulong inode, long offset, Memory<byte> buffer, CancellationToken cancellationToken);
}

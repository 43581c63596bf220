using System.IO.Enumeration;

namespace Accelerator.Linux;

/// <summary>
/// Walks an image's tree on disk (a staged, unpacked or snapshot tree) without ever following a symbolic link.
/// </summary>
/// <remarks>
/// An image author chooses every link in the tree: <c>dev/fd -&gt; /proc/self/fd</c>, <c>lib -&gt; usr/lib</c>,
/// <c>x -&gt; ../../..</c>. .NET's recursive enumeration (<see cref="EnumerationOptions.RecurseSubdirectories"/>)
/// descends into a link that points at a directory, so a walk of an image tree would leave the tree (into the host's
/// <c>/proc</c> or <c>/</c>) or visit a directory twice under a path that does not exist as a directory in the image.
/// These walks report a link as the entry it is and never descend through it.
/// </remarks>
public static class FileTree
{
    private static readonly EnumerationOptions Options = new()
    {
        RecurseSubdirectories = true,
        AttributesToSkip = 0,
        IgnoreInaccessible = false,
        ReturnSpecialDirectories = false,
    };

    /// <summary>
    /// The full paths of every entry under <paramref name="root"/> (not <paramref name="root"/> itself), in no
    /// particular order; a symbolic link is listed and not descended into.
    /// </summary>
    /// <param name="root">The tree's root directory (a real directory, not a link).</param>
    public static IEnumerable<string> EnumerateEntries(string root)
    {
        ArgumentException.ThrowIfNullOrEmpty(root);
        return new FileSystemEnumerable<string>(root, static (ref FileSystemEntry entry) => entry.ToFullPath(), Options)
        {
            ShouldRecursePredicate = static (ref FileSystemEntry entry) => !IsSymbolicLink(ref entry),
        };
    }

    /// <summary>
    /// Every entry under <paramref name="root"/> as a <see cref="FileSystemInfo"/>, in no particular order; a symbolic
    /// link is listed (its <see cref="FileSystemInfo.LinkTarget"/> is set) and not descended into.
    /// </summary>
    /// <param name="root">The tree's root directory (a real directory, not a link).</param>
    public static IEnumerable<FileSystemInfo> EnumerateInfos(string root)
    {
        ArgumentException.ThrowIfNullOrEmpty(root);
        return new FileSystemEnumerable<FileSystemInfo>(root, static (ref FileSystemEntry entry) => entry.ToFileSystemInfo(), Options)
        {
            ShouldRecursePredicate = static (ref FileSystemEntry entry) => !IsSymbolicLink(ref entry),
        };
    }

    // On Unix the entry's attributes come from lstat (or the directory entry's d_type) and carry ReparsePoint for a
    // symbolic link; IsDirectory is true for a link to a directory, so it must not decide recursion alone.
    private static bool IsSymbolicLink(ref FileSystemEntry entry) => (entry.Attributes & FileAttributes.ReparsePoint) != 0;

    /// <summary>
    /// Deletes <paramref name="root"/> and everything under it that is on the same file system: a symbolic link is
    /// removed, never followed, and a directory on another device (a mount point) is not entered.
    /// </summary>
    /// <param name="root">A real directory (not a link).</param>
    /// <exception cref="IOException">Something under it is mounted (nothing of that branch is deleted), or a deletion failed.</exception>
    public static void DeleteOnOneFileSystem(string root)
    {
        ArgumentException.ThrowIfNullOrEmpty(root);
        FileStatus top = LibC.Lstat(root);
        if (!top.IsDirectory)
        {
            throw new IOException($"{root} is not a directory.");
        }

        DeleteDirectory(root, top.DevMajor, top.DevMinor);
    }

    private static void DeleteDirectory(string directory, uint major, uint minor)
    {
        foreach (string entry in Directory.EnumerateFileSystemEntries(directory))
        {
            if (LibC.Lstat(LibC.AT_FDCWD, entry) is not { } status)
            {
                continue;
            }

            if (status.DevMajor != major || status.DevMinor != minor)
            {
                throw new IOException($"{entry} is on another file system (a mount point); it is not deleted.");
            }

            if (status.IsDirectory)
            {
                DeleteDirectory(entry, major, minor);
            }
            else
            {
                File.Delete(entry);
            }
        }

        Directory.Delete(directory);
    }
}

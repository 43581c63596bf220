namespace Accelerator.Linux;

/// <summary>
/// Crash-safe file writes: after a crash a file is either absent, or whole with its old content, or whole with its new
/// content; and the fsyncs that make directory entries (a create, a rename) survive one.
/// </summary>
public static class DurableFile
{
    /// <summary>
    /// Writes <paramref name="content"/> to <paramref name="path"/> atomically and durably: a temporary file in the same
    /// directory is written and fsync'd, renamed over <paramref name="path"/>, and the directory is fsync'd so the rename
    /// itself survives a crash.
    /// </summary>
    /// <exception cref="IOException">A write, the rename or an fsync failed; the temporary file is removed.</exception>
    public static void WriteAtomic(string path, ReadOnlySpan<byte> content)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        string directory = Path.GetDirectoryName(Path.GetFullPath(path))!;
        string temp = Path.Combine(directory, $".{Path.GetFileName(path)}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var file = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 4096, FileOptions.None))
            {
                file.Write(content);
                file.Flush(flushToDisk: true);
            }

            File.Move(temp, path, overwrite: true);
        }
        finally
        {
            File.Delete(temp);
        }

        SyncDirectory(directory);
    }

    /// <summary>fsync on a directory, so that entries created, renamed or removed in it are on disk.</summary>
    /// <exception cref="IOException">The directory cannot be opened or synced.</exception>
    public static void SyncDirectory(string directory)
    {
        int fd = OpenDirectory(directory);
        try
        {
            LibC.Check(LibC.Fsync(fd), "fsync", directory);
        }
        finally
        {
            LibC.Close(fd);
        }
    }

    /// <summary>syncfs on the file system that holds <paramref name="directory"/>: all of a tree's files at once.</summary>
    /// <exception cref="IOException">The directory cannot be opened or the file system synced.</exception>
    public static void SyncFileSystem(string directory)
    {
        int fd = OpenDirectory(directory);
        try
        {
            LibC.Check(LibC.Syncfs(fd), "syncfs", directory);
        }
        finally
        {
            LibC.Close(fd);
        }
    }

    private static int OpenDirectory(string directory)
    {
        // O_DIRECTORY differs by architecture (LinuxOpenFlags); the copies this replaced hard-coded x86-64's.
        int fd = LibC.Open(directory, LibC.O_RDONLY | LibC.O_DIRECTORY | LibC.O_CLOEXEC);
        LibC.Check(fd, "open", directory);
        return fd;
    }
}

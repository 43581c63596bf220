using System.Runtime.InteropServices;

namespace Accelerator.Oci.Replication;

// Public (not internal) so Accelerator.Replication can use it until it moves to Accelerator.Linux (issue 13).
/// <summary>Crash-safe file writes: a file is either absent, or whole with its old content, or whole with its new content.</summary>
public static partial class DurableFile
{
    // <fcntl.h>: O_RDONLY | O_DIRECTORY | O_CLOEXEC on Linux.
    private const int OpenDirectoryFlags = 0x0 | 0x10000 | 0x80000;

    /// <summary>
    /// Writes <paramref name="content"/> to <paramref name="path"/> atomically and durably: a temporary file in the same
    /// directory is written and fsync'd, renamed over <paramref name="path"/>, and the directory is fsync'd so the rename
    /// itself survives a crash.
    /// </summary>
    public static void WriteAtomic(string path, ReadOnlySpan<byte> content)
    {
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
    public static void SyncDirectory(string directory)
    {
        int fd = Open(directory, OpenDirectoryFlags);
        if (fd < 0)
        {
            throw new IOException($"Cannot open directory {directory} to sync it (errno {Marshal.GetLastPInvokeError()}).");
        }

        try
        {
            if (Fsync(fd) != 0)
            {
                throw new IOException($"fsync of directory {directory} failed (errno {Marshal.GetLastPInvokeError()}).");
            }
        }
        finally
        {
            _ = Close(fd);
        }
    }

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "fsync", SetLastError = true)]
    private static partial int Fsync(int fd);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    private static partial int Close(int fd);
}

using System.Runtime.InteropServices;
using Accelerator.Linux;

namespace Accelerator.Oci.Layers;

/// <summary>
/// A directory opened once as the root of every path operation. Paths are resolved by the kernel with
/// openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS), so "..", absolute symbolic links and relative ones that climb
/// are all clamped to the root; final components are then handled with the *at calls relative to the parent's
/// descriptor, never following a final symbolic link.
/// </summary>
internal sealed class RootedDirectory : IDisposable
{
    private const ulong Resolve = LibC.RESOLVE_IN_ROOT | LibC.RESOLVE_NO_MAGICLINKS;

    private RootedDirectory(int fd, string path)
    {
        Fd = fd;
        Path = path;
    }

    /// <summary>The descriptor of the root directory (O_PATH).</summary>
    public int Fd { get; }

    /// <summary>The root's path, for messages.</summary>
    public string Path { get; }

    public static RootedDirectory Open(string path)
    {
        if (!OperatingSystem.IsLinux())
        {
            throw new PlatformNotSupportedException("Applying layers needs Linux (openat2).");
        }

        int fd = LibC.OpenAt(LibC.AT_FDCWD, path, LibC.O_PATH | LibC.O_DIRECTORY | LibC.O_CLOEXEC, 0);
        LibC.Check(fd, "open", path);
        return new RootedDirectory(fd, path);
    }

    /// <summary>
    /// Opens the directory that the first <paramref name="count"/> components name, inside the root. With
    /// <paramref name="create"/>, missing directories are made (mode 0755) and reported to <paramref name="onCreated"/>.
    /// </summary>
    /// <returns>An O_PATH descriptor to close, or -1 when the directory does not exist and <paramref name="create"/> is false.</returns>
    public int OpenDirectory(IReadOnlyList<string> components, int count, bool create, Action<int>? onCreated = null)
    {
        int fd = TryOpen(components, count, out int errno);
        if (fd >= 0)
        {
            return fd;
        }

        if (errno != Errno.ENOENT)
        {
            throw Failure(errno, components, count);
        }

        if (!create)
        {
            return -1;
        }

        // Walk down from the root, making each missing level.
        int current = TryOpen(components, 0, out errno);
        LibC.Check(current, "open", Path);
        try
        {
            for (int i = 0; i < count; i++)
            {
                int next = TryOpen(components, i + 1, out errno);
                if (next < 0 && errno == Errno.ENOENT)
                {
                    if (LibC.MkdirAt(current, components[i], 0x1ED /* 0755 */) != 0)
                    {
                        int mkdirErrno = Marshal.GetLastPInvokeError();
                        throw mkdirErrno == Errno.EEXIST
                            ? new IOException($"'{Join(components, i + 1)}' in '{Path}' exists but does not lead to a directory inside the root (a dangling symbolic link?).")
                            : LibC.Error(mkdirErrno, "mkdir", Join(components, i + 1));
                    }

                    onCreated?.Invoke(i + 1);
                    next = TryOpen(components, i + 1, out errno);
                }

                if (next < 0)
                {
                    throw Failure(errno, components, i + 1);
                }

                LibC.Close(current);
                current = next;
            }

            int result = current;
            current = -1;
            return result;
        }
        finally
        {
            if (current >= 0)
            {
                LibC.Close(current);
            }
        }
    }

    private int TryOpen(IReadOnlyList<string> components, int count, out int errno)
    {
        string path = count == 0 ? "." : Join(components, count);
        for (int attempt = 0; ; attempt++)
        {
            int fd = LibC.OpenAt2(Fd, path, LibC.O_PATH | LibC.O_DIRECTORY | LibC.O_CLOEXEC, Resolve);
            if (fd >= 0)
            {
                errno = 0;
                return fd;
            }

            errno = Marshal.GetLastPInvokeError();

            // openat2 answers EAGAIN when a concurrent rename could have raced the resolution; try again.
            if (errno is not (Errno.EAGAIN or Errno.EINTR) || attempt > 16)
            {
                return -1;
            }
        }
    }

    private IOException Failure(int errno, IReadOnlyList<string> components, int count) => errno switch
    {
        Errno.ENOTDIR => new IOException($"'{Join(components, count)}' in '{Path}' is not a directory."),
        Errno.ELOOP => new IOException($"'{Join(components, count)}' in '{Path}' has too many levels of symbolic links."),
        _ => LibC.Error(errno, "resolve", Join(components, count)),
    };

    public static string Join(IReadOnlyList<string> components, int count) =>
        count == 0 ? "." : string.Join('/', components.Take(count));

    /// <summary>The names in a directory (without "." and "..").</summary>
    public static List<string> List(int dirFd)
    {
        // Listing through the descriptor's /proc entry reads exactly the directory the descriptor holds.
        return Directory.EnumerateFileSystemEntries($"/proc/self/fd/{dirFd}")
            .Select(System.IO.Path.GetFileName)
            .OfType<string>()
            .ToList();
    }

    /// <summary>Removes <paramref name="name"/> in <paramref name="dirFd"/> and, for a directory, all it holds;
    /// symbolic links are removed, never followed.</summary>
    /// <returns>Whether anything was there.</returns>
    public static bool RemoveAll(int dirFd, string name)
    {
        FileStatus? status = LibC.Lstat(dirFd, name);
        if (status is null)
        {
            return false;
        }

        if (status.Value.IsDirectory)
        {
            int child = LibC.OpenAt(dirFd, name, LibC.O_PATH | LibC.O_DIRECTORY | LibC.O_NOFOLLOW | LibC.O_CLOEXEC, 0);
            LibC.Check(child, "open", name);
            try
            {
                foreach (string grandchild in List(child))
                {
                    RemoveAll(child, grandchild);
                }
            }
            finally
            {
                LibC.Close(child);
            }

            LibC.Check(LibC.UnlinkAt(dirFd, name, LibC.AT_REMOVEDIR), "rmdir", name);
        }
        else
        {
            LibC.Check(LibC.UnlinkAt(dirFd, name, 0), "unlink", name);
        }

        return true;
    }

    public void Dispose() => LibC.Close(Fd);
}

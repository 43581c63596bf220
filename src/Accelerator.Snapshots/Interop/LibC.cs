using System.Runtime.InteropServices;

namespace Accelerator.Snapshots.Interop;

/// <summary>The Linux system calls the snapshot store needs: locks, durability, mounts, file status and xattrs.</summary>
internal static unsafe partial class LibC
{
    public const int EINTR = 4;
    public const int ENOENT = 2;
    public const int EINVAL = 22;
    public const int EBUSY = 16;
    public const int EWOULDBLOCK = 11;
    public const int ENODATA = 61;
    public const int ERANGE = 34;

    // <sys/file.h>
    public const int LOCK_SH = 1;
    public const int LOCK_EX = 2;
    public const int LOCK_NB = 4;
    public const int LOCK_UN = 8;

    // <fcntl.h>
    public const int O_RDONLY = 0;
    public static readonly int O_DIRECTORY = Accelerator.Oci.IO.LinuxOpenFlags.Current.Directory; // differs by architecture
    public const int O_CLOEXEC = 0x80000;
    public const int AT_FDCWD = -100;
    public const int AT_SYMLINK_NOFOLLOW = 0x100;

    // <sys/mount.h>
    public const ulong MS_RDONLY = 1;
    public const ulong MS_REMOUNT = 32;
    public const ulong MS_BIND = 4096;
    public const int MNT_DETACH = 2;
    public const int UMOUNT_NOFOLLOW = 8;

    // <linux/stat.h>: STATX_BASIC_STATS
    public const uint STATX_BASIC_STATS = 0x7ff;

    public const uint S_IFMT = 0xF000;
    public const uint S_IFSOCK = 0xC000;
    public const uint S_IFLNK = 0xA000;
    public const uint S_IFREG = 0x8000;
    public const uint S_IFBLK = 0x6000;
    public const uint S_IFDIR = 0x4000;
    public const uint S_IFCHR = 0x2000;
    public const uint S_IFIFO = 0x1000;

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int Open(string path, int flags, int mode);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    public static partial int Close(int fd);

    [LibraryImport("libc", EntryPoint = "flock", SetLastError = true)]
    public static partial int Flock(int fd, int operation);

    [LibraryImport("libc", EntryPoint = "fsync", SetLastError = true)]
    public static partial int Fsync(int fd);

    [LibraryImport("libc", EntryPoint = "syncfs", SetLastError = true)]
    public static partial int Syncfs(int fd);

    [LibraryImport("libc", EntryPoint = "mount", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int Mount(string source, string target, string? fileSystemType, ulong flags, string? data);

    [LibraryImport("libc", EntryPoint = "umount2", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int Umount2(string target, int flags);

    [LibraryImport("libc", EntryPoint = "statx", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int Statx(int directoryFd, string path, int flags, uint mask, byte* buffer);

    [LibraryImport("libc", EntryPoint = "llistxattr", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial nint Llistxattr(string path, byte* list, nint size);

    [LibraryImport("libc", EntryPoint = "lgetxattr", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial nint Lgetxattr(string path, string name, byte* value, nint size);

    [LibraryImport("libc", EntryPoint = "lchown", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int Lchown(string path, uint uid, uint gid);

    [LibraryImport("libc", EntryPoint = "chmod", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int Chmod(string path, uint mode);

    [LibraryImport("libc", EntryPoint = "utimensat", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int Utimensat(int directoryFd, string path, long* times, int flags);

    /// <summary>
    /// Gives directory <paramref name="target"/> the owner, mode and modification time of <paramref name="source"/>
    /// (an overlay's merged root shows its upper directory's attributes, so a new upper root must carry the image's).
    /// </summary>
    public static void CopyDirectoryAttributes(string source, string target)
    {
        var status = Lstat(source);
        if (Lchown(target, status.Uid, status.Gid) != 0)
        {
            throw Error("lchown", target);
        }

        if (Chmod(target, status.Mode & 0xFFF) != 0)
        {
            throw Error("chmod", target);
        }

        SetModificationTime(target, status.MtimeSeconds, status.MtimeNanoseconds);
    }

    /// <summary>Sets the access and modification times of <paramref name="path"/> (not following a symbolic link).</summary>
    public static void SetModificationTime(string path, long seconds, uint nanoseconds)
    {
        // struct timespec[2]: atime, mtime.
        long* times = stackalloc long[4];
        times[0] = seconds;
        times[1] = nanoseconds;
        times[2] = seconds;
        times[3] = nanoseconds;
        if (Utimensat(AT_FDCWD, path, times, AT_SYMLINK_NOFOLLOW) != 0)
        {
            throw Error("utimensat", path);
        }
    }

    /// <summary>An IOException for the last error of <paramref name="call"/> on <paramref name="path"/>.</summary>
    public static IOException Error(string call, string path)
    {
        int errno = Marshal.GetLastPInvokeError();
        return new IOException($"{call} of '{path}' failed: {Marshal.GetPInvokeErrorMessage(errno)}.", errno);
    }

    /// <summary>Flushes a directory's entries (after a rename or create in it) to disk.</summary>
    public static void FsyncDirectory(string path)
    {
        int fd = Open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
        if (fd < 0)
        {
            throw Error("open", path);
        }

        try
        {
            if (Fsync(fd) != 0)
            {
                throw Error("fsync", path);
            }
        }
        finally
        {
            Close(fd);
        }
    }

    /// <summary>Flushes the whole file system that holds <paramref name="path"/> (all of a tree's files at once).</summary>
    public static void SyncFileSystem(string path)
    {
        int fd = Open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
        if (fd < 0)
        {
            throw Error("open", path);
        }

        try
        {
            if (Syncfs(fd) != 0)
            {
                throw Error("syncfs", path);
            }
        }
        finally
        {
            Close(fd);
        }
    }

    /// <summary>lstat-like status of <paramref name="path"/>, from statx(2).</summary>
    public static FileStatus Lstat(string path)
    {
        byte* buffer = stackalloc byte[256];
        if (Statx(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, buffer) != 0)
        {
            throw Error("statx", path);
        }

        // struct statx (linux/stat.h): fixed layout on every architecture.
        return new FileStatus(
            Mode: *(ushort*)(buffer + 28),
            Nlink: *(uint*)(buffer + 16),
            Uid: *(uint*)(buffer + 20),
            Gid: *(uint*)(buffer + 24),
            Inode: *(ulong*)(buffer + 32),
            Size: *(long*)(buffer + 40),
            Blocks: *(long*)(buffer + 48),
            MtimeSeconds: *(long*)(buffer + 112),
            MtimeNanoseconds: *(uint*)(buffer + 120),
            RdevMajor: *(uint*)(buffer + 128),
            RdevMinor: *(uint*)(buffer + 132),
            DevMajor: *(uint*)(buffer + 136),
            DevMinor: *(uint*)(buffer + 140));
    }

    /// <summary>The extended attributes of <paramref name="path"/> (not following a symbolic link).</summary>
    public static List<KeyValuePair<string, byte[]>> ListXattrs(string path)
    {
        var result = new List<KeyValuePair<string, byte[]>>();
        nint size = Llistxattr(path, null, 0);
        if (size < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            // Symbolic links on some file systems do not support xattrs at all.
            return errno is 95 ? result : throw Error("llistxattr", path);
        }

        if (size == 0)
        {
            return result;
        }

        byte[] names = new byte[size];
        fixed (byte* p = names)
        {
            size = Llistxattr(path, p, names.Length);
            if (size < 0)
            {
                throw Error("llistxattr", path);
            }
        }

        foreach (var raw in Split0(new ReadOnlyMemory<byte>(names, 0, (int)size)))
        {
            string name = System.Text.Encoding.UTF8.GetString(raw.Span);
            nint length = Lgetxattr(path, name, null, 0);
            if (length < 0)
            {
                if (Marshal.GetLastPInvokeError() == ENODATA)
                {
                    continue;
                }

                throw Error("lgetxattr", path);
            }

            byte[] value = new byte[length];
            fixed (byte* v = value)
            {
                length = length == 0 ? 0 : Lgetxattr(path, name, v, value.Length);
            }

            if (length < 0)
            {
                throw Error("lgetxattr", path);
            }

            result.Add(new(name, value[..(int)length]));
        }

        return result;
    }

    private static IEnumerable<ReadOnlyMemory<byte>> Split0(ReadOnlyMemory<byte> list)
    {
        int start = 0;
        for (int i = 0; i < list.Length; i++)
        {
            if (list.Span[i] == 0)
            {
                if (i > start)
                {
                    yield return list[start..i];
                }

                start = i + 1;
            }
        }
    }
}

/// <summary>What statx(2) says about a file.</summary>
internal readonly record struct FileStatus(
    uint Mode, uint Nlink, uint Uid, uint Gid, ulong Inode, long Size, long Blocks,
    long MtimeSeconds, uint MtimeNanoseconds, uint RdevMajor, uint RdevMinor, uint DevMajor, uint DevMinor)
{
    public uint Type => Mode & LibC.S_IFMT;

    public bool IsDirectory => Type == LibC.S_IFDIR;
}

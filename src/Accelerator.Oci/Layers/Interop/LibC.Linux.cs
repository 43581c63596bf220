using System.Runtime.InteropServices;

namespace Accelerator.Oci.Layers.Interop;

/// <summary>The libc and system calls the layer applier uses (Linux x86_64 and arm64).</summary>
internal static unsafe partial class LibC
{
    private const string Library = "libc";

    // asm-generic/fcntl.h; x86_64 and arm64 differ in O_DIRECTORY and O_NOFOLLOW (arch/arm64 uses the generic
    // values of arm: O_DIRECTORY 040000, O_NOFOLLOW 0100000).
    public const int O_RDONLY = 0x0;
    public const int O_WRONLY = 0x1;
    public const int O_CREAT = 0x40;
    public const int O_EXCL = 0x80;
    public const int O_CLOEXEC = 0x80000;
    public const int O_PATH = 0x200000;

    public static readonly int O_DIRECTORY = Accelerator.Oci.IO.LinuxOpenFlags.Current.Directory;
    public static readonly int O_NOFOLLOW = Accelerator.Oci.IO.LinuxOpenFlags.Current.NoFollow;

    // linux/fcntl.h
    public const int AT_FDCWD = -100;
    public const int AT_SYMLINK_NOFOLLOW = 0x100;
    public const int AT_REMOVEDIR = 0x200;
    public const int AT_EMPTY_PATH = 0x1000;

    // linux/openat2.h
    public const ulong RESOLVE_NO_MAGICLINKS = 0x02;
    public const ulong RESOLVE_IN_ROOT = 0x10;

    // openat2 has the same number on x86_64 and arm64 (asm-generic/unistd.h, arch/x86/entry/syscalls/syscall_64.tbl).
    private const long SYS_openat2 = 437;

    // asm-generic/errno-base.h, asm-generic/errno.h
    public const int EPERM = 1;
    public const int ENOENT = 2;
    public const int EINTR = 4;
    public const int EAGAIN = 11;
    public const int EEXIST = 17;
    public const int ENOTDIR = 20;
    public const int EISDIR = 21;
    public const int ELOOP = 40;

    // linux/stat.h
    public const uint S_IFMT = 0xF000;
    public const uint S_IFIFO = 0x1000;
    public const uint S_IFCHR = 0x2000;
    public const uint S_IFDIR = 0x4000;
    public const uint S_IFBLK = 0x6000;
    public const uint S_IFREG = 0x8000;
    public const uint S_IFLNK = 0xA000;

    private const uint STATX_BASIC_STATS = 0x7FF;

    [StructLayout(LayoutKind.Sequential)]
    private struct OpenHow
    {
        public ulong Flags;
        public ulong Mode;
        public ulong Resolve;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct Timespec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    [LibraryImport(Library, EntryPoint = "syscall", SetLastError = true)]
    private static partial long Syscall(long number, int dirfd, byte* path, OpenHow* how, nuint size);

    [LibraryImport(Library, EntryPoint = "openat", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int OpenAt(int dirfd, string path, int flags, uint mode);

    [LibraryImport(Library, EntryPoint = "close", SetLastError = true)]
    public static partial int Close(int fd);

    [LibraryImport(Library, EntryPoint = "mkdirat", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int MkdirAt(int dirfd, string path, uint mode);

    [LibraryImport(Library, EntryPoint = "mknodat", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int MknodAt(int dirfd, string path, uint mode, ulong dev);

    [LibraryImport(Library, EntryPoint = "symlinkat", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int SymlinkAt(string target, int newdirfd, string linkpath);

    [LibraryImport(Library, EntryPoint = "linkat", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int LinkAt(int olddirfd, string oldpath, int newdirfd, string newpath, int flags);

    [LibraryImport(Library, EntryPoint = "unlinkat", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int UnlinkAt(int dirfd, string path, int flags);

    [LibraryImport(Library, EntryPoint = "fchownat", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int FchownAt(int dirfd, string path, uint owner, uint group, int flags);

    [LibraryImport(Library, EntryPoint = "fchmodat", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int FchmodAt(int dirfd, string path, uint mode, int flags);

    [LibraryImport(Library, EntryPoint = "utimensat", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int UtimensAt(int dirfd, string path, Timespec* times, int flags);

    [LibraryImport(Library, EntryPoint = "ftruncate", SetLastError = true)]
    public static partial int Ftruncate(int fd, long length);

    [LibraryImport(Library, EntryPoint = "setxattr", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Setxattr(string path, string name, byte* value, nuint size, int flags);

    [LibraryImport(Library, EntryPoint = "lsetxattr", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int Lsetxattr(string path, string name, byte* value, nuint size, int flags);

    [LibraryImport(Library, EntryPoint = "lgetxattr", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial nint Lgetxattr(string path, string name, byte* value, nuint size);

    [LibraryImport(Library, EntryPoint = "statx", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int StatxNative(int dirfd, string path, int flags, uint mask, byte* buffer);

    [LibraryImport(Library, EntryPoint = "geteuid")]
    public static partial uint Geteuid();

    /// <summary>openat2(2): opens <paramref name="path"/> relative to <paramref name="dirfd"/> with resolve flags.</summary>
    public static int OpenAt2(int dirfd, string path, int flags, ulong resolve)
    {
        int byteCount = System.Text.Encoding.UTF8.GetByteCount(path);
        byte[] bytes = new byte[byteCount + 1];
        System.Text.Encoding.UTF8.GetBytes(path, bytes);
        var how = new OpenHow { Flags = (ulong)flags, Mode = 0, Resolve = resolve };
        fixed (byte* p = bytes)
        {
            return (int)Syscall(SYS_openat2, dirfd, p, &how, (nuint)sizeof(OpenHow));
        }
    }

    /// <summary>lgetxattr(2) into a new array; <see langword="null"/> when the attribute is absent.</summary>
    public static byte[]? GetXattr(string path, string name)
    {
        byte[] buffer = new byte[65536];
        fixed (byte* p = buffer)
        {
            nint length = Lgetxattr(path, name, p, (nuint)buffer.Length);
            return length < 0 ? null : buffer[..(int)length];
        }
    }

    /// <summary>lsetxattr(2) of a whole value; throws on failure.</summary>
    public static void SetXattr(string path, string name, ReadOnlySpan<byte> value)
    {
        fixed (byte* p = value)
        {
            Check(Lsetxattr(path, name, p, (nuint)value.Length, 0), $"setxattr {name} on", path);
        }
    }

    /// <summary>
    /// The path of an open descriptor in /proc/self/fd. Calls that follow it act on exactly the inode the descriptor
    /// holds (a "magic link", not a path looked up again), which is how an O_PATH descriptor gets chmod, setxattr and
    /// utimensat without following anything a name now points at.
    /// </summary>
    public static string DescriptorPath(int fd) => $"/proc/self/fd/{fd}";

    /// <summary>setxattr(2) of a whole value on the inode an open descriptor holds; throws on failure.</summary>
    public static void SetXattr(int fd, string name, ReadOnlySpan<byte> value)
    {
        string path = DescriptorPath(fd);
        fixed (byte* p = value)
        {
            Check(Setxattr(path, name, p, (nuint)value.Length, 0), $"setxattr {name} on", path);
        }
    }

    /// <summary>statx(2) of what an open descriptor (O_PATH included) holds.</summary>
    public static FileStatus Fstat(int fd) =>
        Statx(fd, string.Empty, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) ?? throw Error(ENOENT, "stat", DescriptorPath(fd));

    /// <summary>The device number glibc's makedev() builds (sys/sysmacros.h).</summary>
    public static ulong MakeDev(uint major, uint minor) =>
        ((ulong)(major & 0xFFFFF000) << 32) | ((ulong)(major & 0xFFF) << 8)
        | ((ulong)(minor & 0xFFFFFF00) << 12) | (minor & 0xFF);

    /// <summary>statx(2) without following a final symbolic link; <see langword="null"/> when the file does not exist.</summary>
    public static FileStatus? Lstat(int dirfd, string path) => Statx(dirfd, path, AT_SYMLINK_NOFOLLOW);

    private static FileStatus? Statx(int dirfd, string path, int flags)
    {
        // struct statx is 256 bytes (linux/stat.h); field offsets below come from that header.
        byte* buffer = stackalloc byte[256];
        if (StatxNative(dirfd, path, flags, STATX_BASIC_STATS, buffer) != 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            return errno is ENOENT or ENOTDIR ? null : throw Error(errno, "stat", path);
        }

        return new FileStatus(
            Mode: *(ushort*)(buffer + 28),
            Uid: *(uint*)(buffer + 20),
            Gid: *(uint*)(buffer + 24),
            Nlink: *(uint*)(buffer + 16),
            Inode: *(ulong*)(buffer + 32),
            Size: *(long*)(buffer + 40),
            Blocks: *(long*)(buffer + 48),
            MtimeSeconds: *(long*)(buffer + 112),
            MtimeNanoseconds: *(uint*)(buffer + 120),
            RdevMajor: *(uint*)(buffer + 128),
            RdevMinor: *(uint*)(buffer + 132));
    }

    /// <summary>An <see cref="IOException"/> describing a failed call, with the C library's message for errno.</summary>
    public static IOException Error(int errno, string operation, string path) =>
        new($"{operation} '{path}' failed: {Marshal.GetPInvokeErrorMessage(errno)} (errno {errno}).");

    /// <summary>Throws for the last error when <paramref name="result"/> is negative.</summary>
    public static void Check(long result, string operation, string path)
    {
        if (result < 0)
        {
            throw Error(Marshal.GetLastPInvokeError(), operation, path);
        }
    }
}

/// <summary>The parts of struct statx the layer code and its tests look at.</summary>
internal readonly record struct FileStatus(
    uint Mode, uint Uid, uint Gid, uint Nlink, ulong Inode, long Size, long Blocks,
    long MtimeSeconds, uint MtimeNanoseconds, uint RdevMajor, uint RdevMinor)
{
    public uint Type => Mode & LibC.S_IFMT;

    public bool IsDirectory => Type == LibC.S_IFDIR;

    public bool IsSymbolicLink => Type == LibC.S_IFLNK;
}

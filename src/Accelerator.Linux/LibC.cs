using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Accelerator.Linux;

/// <summary>
/// The libc and system calls Accelerator uses on Linux (x86-64 and arm64), declared once. Numbers that differ by
/// architecture come from <see cref="LinuxOpenFlags"/>; the others are the same on both (asm-generic headers).
/// </summary>
/// <remarks>
/// Calls named after the system call (<see cref="Open"/>, <see cref="OpenAt"/>, <see cref="MkdirAt"/>…) return what
/// the kernel returns: -1 on failure, with errno in <see cref="Marshal.GetLastPInvokeError"/>. Calls that say
/// "returns 0 or errno" or "-errno" say so; the rest throw <see cref="IOException"/> naming the call and the path.
/// </remarks>
public static unsafe partial class LibC
{
    private const string Library = "libc";

    // asm-generic/fcntl.h; the flags that differ by architecture are in LinuxOpenFlags.

    /// <summary><c>O_RDONLY</c>.</summary>
    public const int O_RDONLY = 0x0;

    /// <summary><c>O_WRONLY</c>.</summary>
    public const int O_WRONLY = 0x1;

    /// <summary><c>O_RDWR</c>.</summary>
    public const int O_RDWR = 0x2;

    /// <summary><c>O_CREAT</c>.</summary>
    public const int O_CREAT = 0x40;

    /// <summary><c>O_EXCL</c>.</summary>
    public const int O_EXCL = 0x80;

    /// <summary><c>O_TRUNC</c>.</summary>
    public const int O_TRUNC = 0x200;

    /// <summary><c>O_CLOEXEC</c>.</summary>
    public const int O_CLOEXEC = 0x80000;

    /// <summary><c>O_PATH</c>.</summary>
    public const int O_PATH = 0x200000;

    /// <summary><c>O_DIRECTORY</c> of this architecture (x86-64 0200000, arm64 040000).</summary>
    public static readonly int O_DIRECTORY = LinuxOpenFlags.Current.Directory;

    /// <summary><c>O_NOFOLLOW</c> of this architecture (x86-64 0400000, arm64 0100000).</summary>
    public static readonly int O_NOFOLLOW = LinuxOpenFlags.Current.NoFollow;

    /// <summary><c>O_DIRECT</c> of this architecture (x86-64 040000, arm64 0200000).</summary>
    public static readonly int O_DIRECT = LinuxOpenFlags.Current.Direct;

    // asm-generic/fcntl.h

    /// <summary><c>F_GETFL</c> for <see cref="Fcntl"/>.</summary>
    public const int F_GETFL = 3;

    /// <summary><c>F_SETFL</c> for <see cref="Fcntl"/>.</summary>
    public const int F_SETFL = 4;

    // linux/fcntl.h

    /// <summary><c>AT_FDCWD</c>: a path relative to the working directory.</summary>
    public const int AT_FDCWD = -100;

    /// <summary><c>AT_SYMLINK_NOFOLLOW</c>.</summary>
    public const int AT_SYMLINK_NOFOLLOW = 0x100;

    /// <summary><c>AT_REMOVEDIR</c> for <see cref="UnlinkAt"/>.</summary>
    public const int AT_REMOVEDIR = 0x200;

    /// <summary><c>AT_EMPTY_PATH</c>: act on the descriptor itself.</summary>
    public const int AT_EMPTY_PATH = 0x1000;

    // linux/stat.h

    /// <summary><c>S_IFMT</c>: the file type bits of a mode.</summary>
    public const uint S_IFMT = 0xF000;

    /// <summary><c>S_IFSOCK</c>.</summary>
    public const uint S_IFSOCK = 0xC000;

    /// <summary><c>S_IFLNK</c>.</summary>
    public const uint S_IFLNK = 0xA000;

    /// <summary><c>S_IFREG</c>.</summary>
    public const uint S_IFREG = 0x8000;

    /// <summary><c>S_IFBLK</c>.</summary>
    public const uint S_IFBLK = 0x6000;

    /// <summary><c>S_IFDIR</c>.</summary>
    public const uint S_IFDIR = 0x4000;

    /// <summary><c>S_IFCHR</c>.</summary>
    public const uint S_IFCHR = 0x2000;

    /// <summary><c>S_IFIFO</c>.</summary>
    public const uint S_IFIFO = 0x1000;

    // sys/file.h

    /// <summary><c>LOCK_EX</c> for <see cref="Flock"/>.</summary>
    public const int LOCK_EX = 2;

    /// <summary><c>LOCK_NB</c> for <see cref="Flock"/>.</summary>
    public const int LOCK_NB = 4;

    // linux/falloc.h

    /// <summary><c>FALLOC_FL_KEEP_SIZE</c>.</summary>
    public const int FALLOC_FL_KEEP_SIZE = 0x01;

    /// <summary><c>FALLOC_FL_PUNCH_HOLE</c>.</summary>
    public const int FALLOC_FL_PUNCH_HOLE = 0x02;

    /// <summary><c>FALLOC_FL_ZERO_RANGE</c>.</summary>
    public const int FALLOC_FL_ZERO_RANGE = 0x10;

    // linux/fs.h

    /// <summary><c>RWF_NOWAIT</c> for <see cref="PRead2"/>: fail with EAGAIN instead of waiting for the device.</summary>
    public const int RWF_NOWAIT = 0x08;

    private const uint STATX_BASIC_STATS = 0x7FF;

    [LibraryImport(Library, EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int OpenNative(string path, int flags, uint mode);

    [LibraryImport(Library, EntryPoint = "close", SetLastError = true)]
    private static partial int CloseNative(int fd);

    [LibraryImport(Library, EntryPoint = "read", SetLastError = true)]
    private static partial nint ReadNative(int fd, byte* buffer, nuint count);

    [LibraryImport(Library, EntryPoint = "write", SetLastError = true)]
    private static partial nint WriteNative(int fd, byte* buffer, nuint count);

    [LibraryImport(Library, EntryPoint = "writev", SetLastError = true)]
    private static partial nint WritevNative(int fd, IoVector* vectors, int count);

    [LibraryImport(Library, EntryPoint = "preadv2", SetLastError = true)]
    private static partial nint PReadV2Native(SafeFileHandle fd, IoVector* vectors, int count, long offset, int flags);

    [LibraryImport(Library, EntryPoint = "fcntl", SetLastError = true)]
    private static partial int FcntlNative(SafeFileHandle fd, int command, int argument);

    [LibraryImport(Library, EntryPoint = "fallocate", SetLastError = true)]
    private static partial int FallocateNative(SafeFileHandle fd, int mode, long offset, long length);

    [LibraryImport(Library, EntryPoint = "fdatasync", SetLastError = true)]
    private static partial int FDataSyncNative(SafeFileHandle fd);

    [LibraryImport(Library, EntryPoint = "fsync", SetLastError = true)]
    private static partial int FsyncNative(int fd);

    [LibraryImport(Library, EntryPoint = "syncfs", SetLastError = true)]
    private static partial int SyncfsNative(int fd);

    [LibraryImport(Library, EntryPoint = "flock", SetLastError = true)]
    private static partial int FlockNative(int fd, int operation);

    [LibraryImport(Library, EntryPoint = "ftruncate", SetLastError = true)]
    private static partial int FtruncateNative(int fd, long length);

    [LibraryImport(Library, EntryPoint = "getdents64", SetLastError = true)]
    private static partial nint GetDents64Native(int fd, byte* buffer, nuint count);

    [LibraryImport(Library, EntryPoint = "mkdir", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int MkdirNative(string path, uint mode);

    [LibraryImport(Library, EntryPoint = "unlink", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int UnlinkNative(string path);

    [LibraryImport(Library, EntryPoint = "chmod", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int ChmodNative(string path, uint mode);

    [LibraryImport(Library, EntryPoint = "lchown", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int LchownNative(string path, uint uid, uint gid);

    [LibraryImport(Library, EntryPoint = "link", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int LinkNative(string existing, string newPath);

    [LibraryImport(Library, EntryPoint = "mknod", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int MknodNative(string path, uint mode, ulong dev);

    [LibraryImport(Library, EntryPoint = "statx", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int StatxNative(int dirfd, string path, int flags, uint mask, byte* buffer);

    [LibraryImport(Library, EntryPoint = "realpath", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial nint RealpathNative(string path, nint resolved);

    [LibraryImport(Library, EntryPoint = "free")]
    private static partial void Free(nint pointer);

    /// <summary>geteuid(2): this process's effective user ID.</summary>
    [LibraryImport(Library, EntryPoint = "geteuid")]
    public static partial uint Geteuid();

    /// <summary>getegid(2): this process's effective group ID.</summary>
    [LibraryImport(Library, EntryPoint = "getegid")]
    public static partial uint Getegid();

    // struct iovec (sys/uio.h).
    [StructLayout(LayoutKind.Sequential)]
    private struct IoVector
    {
        public byte* Base;
        public nuint Length;
    }

    /// <summary>open(2): a descriptor, or -1 with errno.</summary>
    public static int Open(string path, int flags, uint mode = 0) => OpenNative(path, flags, mode);

    /// <summary>close(2); errors are ignored (the descriptor is gone either way).</summary>
    public static void Close(int fd) => _ = CloseNative(fd);

    /// <summary>Opens <paramref name="path"/> read-write with O_CLOEXEC (a device such as <c>/dev/fuse</c>).</summary>
    /// <exception cref="IOException">open(2) failed; ENOENT says the kernel lacks the device.</exception>
    public static SafeFileHandle OpenReadWrite(string path)
    {
        int fd = OpenNative(path, O_RDWR | O_CLOEXEC, 0);
        if (fd < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            throw new IOException(
                errno == Errno.ENOENT ? $"'{path}' does not exist: the kernel has no FUSE support (modprobe fuse)." : $"Cannot open '{path}': {Message(errno)}.",
                errno);
        }

        return new SafeFileHandle(fd, ownsHandle: true);
    }

    /// <summary>read(2); returns the count, or -errno.</summary>
    public static int Read(int fd, Span<byte> buffer)
    {
        fixed (byte* p = buffer)
        {
            nint n = ReadNative(fd, p, (nuint)buffer.Length);
            return n >= 0 ? (int)n : -Marshal.GetLastPInvokeError();
        }
    }

    /// <summary>write(2) of the whole buffer in one call; returns the count, or -errno.</summary>
    public static int Write(int fd, ReadOnlySpan<byte> buffer)
    {
        fixed (byte* p = buffer)
        {
            nint n = WriteNative(fd, p, (nuint)buffer.Length);
            return n >= 0 ? (int)n : -Marshal.GetLastPInvokeError();
        }
    }

    /// <summary>writev(2) of two buffers in one call (one message for /dev/fuse); returns the count, or -errno.</summary>
    public static int Writev(int fd, ReadOnlySpan<byte> first, ReadOnlySpan<byte> second)
    {
        fixed (byte* p1 = first)
        fixed (byte* p2 = second)
        {
            IoVector* vectors = stackalloc IoVector[2];
            vectors[0] = new IoVector { Base = p1, Length = (nuint)first.Length };
            vectors[1] = new IoVector { Base = p2, Length = (nuint)second.Length };
            nint n = WritevNative(fd, vectors, second.IsEmpty ? 1 : 2);
            return n >= 0 ? (int)n : -Marshal.GetLastPInvokeError();
        }
    }

    /// <summary>preadv2(2) of one buffer at <paramref name="offset"/> with <paramref name="flags"/> (<see cref="RWF_NOWAIT"/>); the count, or -1 with errno.</summary>
    public static nint PRead2(SafeFileHandle file, Span<byte> buffer, long offset, int flags)
    {
        fixed (byte* p = buffer)
        {
            var vector = new IoVector { Base = p, Length = (nuint)buffer.Length };
            return PReadV2Native(file, &vector, 1, offset, flags);
        }
    }

    /// <summary>fcntl(2) with an integer argument (<see cref="F_GETFL"/>, <see cref="F_SETFL"/>); the result, or -1 with errno.</summary>
    public static int Fcntl(SafeFileHandle file, int command, int argument) => FcntlNative(file, command, argument);

    /// <summary>fallocate(2); 0, or -1 with errno.</summary>
    public static int Fallocate(SafeFileHandle file, int mode, long offset, long length) => FallocateNative(file, mode, offset, length);

    /// <summary>fdatasync(2) of <paramref name="file"/>, named <paramref name="path"/> in the error.</summary>
    /// <exception cref="IOException">fdatasync failed.</exception>
    public static void FDataSync(SafeFileHandle file, string path)
    {
        if (FDataSyncNative(file) != 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            throw new IOException($"fdatasync of '{path}' failed: {Marshal.GetPInvokeErrorMessage(errno)}.", errno);
        }
    }

    /// <summary>fsync(2); 0, or -1 with errno.</summary>
    internal static int Fsync(int fd) => FsyncNative(fd);

    /// <summary>syncfs(2); 0, or -1 with errno.</summary>
    internal static int Syncfs(int fd) => SyncfsNative(fd);

    /// <summary>flock(2); 0, or -1 with errno.</summary>
    public static int Flock(int fd, int operation) => FlockNative(fd, operation);

    /// <summary>ftruncate(2); 0, or -1 with errno.</summary>
    public static int Ftruncate(int fd, long length) => FtruncateNative(fd, length);

    /// <summary>getdents64(2) into <paramref name="buffer"/>: the bytes of <c>struct linux_dirent64</c> records, 0 at the end, or -1 with errno.</summary>
    public static nint GetDents64(int fd, Span<byte> buffer)
    {
        fixed (byte* p = buffer)
        {
            return GetDents64Native(fd, p, (nuint)buffer.Length);
        }
    }

    /// <summary>mkdir(2); 0, or -1 with errno.</summary>
    public static int Mkdir(string path, uint mode) => MkdirNative(path, mode);

    /// <summary>unlink(2); 0, or -1 with errno.</summary>
    public static int Unlink(string path) => UnlinkNative(path);

    /// <summary>chmod(2) (follows a symbolic link); 0, or -1 with errno.</summary>
    public static int Chmod(string path, uint mode) => ChmodNative(path, mode);

    /// <summary>Changes the owner of <paramref name="path"/> without following a symbolic link.</summary>
    /// <exception cref="IOException">lchown failed.</exception>
    public static void SetOwner(string path, uint uid, uint gid) => Check(LchownNative(path, uid, gid), "lchown", path);

    /// <summary>Creates a hard link <paramref name="newPath"/> to <paramref name="existing"/>.</summary>
    /// <exception cref="IOException">link failed.</exception>
    public static void Link(string existing, string newPath) => Check(LinkNative(existing, newPath), "link", newPath);

    /// <summary>Creates a device node or fifo; <paramref name="mode"/> includes the file type bits.</summary>
    /// <exception cref="IOException">mknod failed.</exception>
    public static void Mknod(string path, uint mode, uint major, uint minor) => Check(MknodNative(path, mode, MakeDev(major, minor)), "mknod", path);

    /// <summary>realpath(3): the canonical absolute path (symbolic links resolved).</summary>
    /// <exception cref="IOException">The path cannot be resolved.</exception>
    public static string RealPath(string path)
    {
        nint resolved = RealpathNative(path, 0);
        if (resolved == 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            throw new IOException($"Cannot resolve '{path}': {Message(errno)}.", errno);
        }

        try
        {
            return Marshal.PtrToStringUTF8(resolved)!;
        }
        finally
        {
            Free(resolved);
        }
    }

    /// <summary>The device number glibc's makedev() builds (sys/sysmacros.h).</summary>
    public static ulong MakeDev(uint major, uint minor) =>
        ((ulong)(major & 0xFFFFF000) << 32) | ((ulong)(major & 0xFFF) << 8)
        | ((ulong)(minor & 0xFFFFFF00) << 12) | (minor & 0xFF);

    /// <summary>
    /// The path of an open descriptor in /proc/self/fd. Calls that follow it act on exactly the inode the descriptor
    /// holds (a "magic link", not a path looked up again), which is how an O_PATH descriptor gets chmod, setxattr and
    /// utimensat without following anything a name now points at.
    /// </summary>
    public static string DescriptorPath(int fd) => $"/proc/self/fd/{fd}";

    /// <summary>statx(2) of <paramref name="path"/> relative to <paramref name="dirfd"/>, not following a final symbolic link; null when it does not exist.</summary>
    /// <exception cref="IOException">statx failed for another reason.</exception>
    public static FileStatus? Lstat(int dirfd, string path) => Statx(dirfd, path, AT_SYMLINK_NOFOLLOW);

    /// <summary>statx(2) of <paramref name="path"/>, not following a final symbolic link.</summary>
    /// <exception cref="IOException">statx failed, or nothing is there.</exception>
    public static FileStatus Lstat(string path) => Statx(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW) ?? throw Error(Errno.ENOENT, "statx", path);

    /// <summary>statx(2) of what an open descriptor (O_PATH included) holds.</summary>
    /// <exception cref="IOException">statx failed.</exception>
    public static FileStatus Fstat(int fd) =>
        Statx(fd, string.Empty, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) ?? throw Error(Errno.ENOENT, "stat", DescriptorPath(fd));

    private static FileStatus? Statx(int dirfd, string path, int flags)
    {
        // struct statx is 256 bytes with one layout on every architecture (linux/stat.h); offsets below come from it.
        byte* buffer = stackalloc byte[256];
        new Span<byte>(buffer, 256).Clear();
        if (StatxNative(dirfd, path, flags, STATX_BASIC_STATS, buffer) != 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            return errno is Errno.ENOENT or Errno.ENOTDIR ? null : throw Error(errno, "stat", path);
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
            RdevMinor: *(uint*)(buffer + 132),
            DevMajor: *(uint*)(buffer + 136),
            DevMinor: *(uint*)(buffer + 140));
    }

    /// <summary>The text of <paramref name="errno"/>, with the number.</summary>
    public static string Message(int errno) => $"{Marshal.GetPInvokeErrorMessage(errno)} (errno {errno})";

    /// <summary>An <see cref="IOException"/> describing a failed call, with the C library's message for errno.</summary>
    public static IOException Error(int errno, string operation, string path) =>
        new($"{operation} '{path}' failed: {Marshal.GetPInvokeErrorMessage(errno)} (errno {errno}).", errno);

    /// <summary>An <see cref="IOException"/> for the last error of <paramref name="operation"/> on <paramref name="path"/>.</summary>
    public static IOException LastError(string operation, string path) => Error(Marshal.GetLastPInvokeError(), operation, path);

    /// <summary>Throws for the last error when <paramref name="result"/> is negative.</summary>
    /// <exception cref="IOException"><paramref name="result"/> is negative.</exception>
    public static void Check(long result, string operation, string path)
    {
        if (result < 0)
        {
            throw Error(Marshal.GetLastPInvokeError(), operation, path);
        }
    }
}

using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Accelerator.Fuse.Interop;

/// <summary>The system calls FUSE needs (Linux x86_64 and arm64): the device, mount(2), umount2(2).</summary>
internal static unsafe partial class LibC
{
    private const string Library = "libc";

    // asm-generic/fcntl.h (identical on x86_64 and arm64 for these)
    internal const int O_RDWR = 0x2;
    internal const int O_CLOEXEC = 0x80000;

    // linux/mount.h (MS_*) and sys/mount.h (umount2 flags)
    internal const ulong MS_RDONLY = 1;
    internal const ulong MS_NOSUID = 2;
    internal const ulong MS_NODEV = 4;
    internal const int MNT_DETACH = 2;
    internal const int UMOUNT_NOFOLLOW = 8;

    // errno (asm-generic/errno-base.h, errno.h)
    internal const int EPERM = 1;
    internal const int ENOENT = 2;
    internal const int EINTR = 4;
    internal const int EAGAIN = 11;
    internal const int EBUSY = 16;
    internal const int ENODEV = 19;
    internal const int EINVAL = 22;
    internal const int ECONNABORTED = 103;

    [LibraryImport(Library, EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int OpenNative(string path, int flags, uint mode);

    [LibraryImport(Library, EntryPoint = "read", SetLastError = true)]
    private static partial nint ReadNative(int fd, byte* buffer, nuint count);

    [LibraryImport(Library, EntryPoint = "write", SetLastError = true)]
    private static partial nint WriteNative(int fd, byte* buffer, nuint count);

    [LibraryImport(Library, EntryPoint = "writev", SetLastError = true)]
    private static partial nint WritevNative(int fd, IoVector* vectors, int count);

    [LibraryImport(Library, EntryPoint = "mount", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int MountNative(string source, string target, string fileSystemType, ulong flags, string? data);

    [LibraryImport(Library, EntryPoint = "umount2", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Umount2Native(string target, int flags);

    [LibraryImport(Library, EntryPoint = "realpath", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial nint RealpathNative(string path, nint resolved);

    [LibraryImport(Library, EntryPoint = "free")]
    private static partial void Free(nint pointer);

    [LibraryImport(Library, EntryPoint = "geteuid")]
    internal static partial uint Geteuid();

    [LibraryImport(Library, EntryPoint = "getegid")]
    internal static partial uint Getegid();

    /// <summary>Opens <paramref name="path"/> read-write with O_CLOEXEC.</summary>
    internal static SafeFileHandle OpenReadWrite(string path)
    {
        int fd = OpenNative(path, O_RDWR | O_CLOEXEC, 0);
        if (fd < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            throw new IOException(
                errno == ENOENT ? $"'{path}' does not exist: the kernel has no FUSE support (modprobe fuse)." : $"Cannot open '{path}': {Message(errno)}.",
                errno);
        }

        return new SafeFileHandle(fd, ownsHandle: true);
    }

    /// <summary>read(2); returns the count, or -errno.</summary>
    internal static int Read(int fd, Span<byte> buffer)
    {
        fixed (byte* p = buffer)
        {
            nint n = ReadNative(fd, p, (nuint)buffer.Length);
            return n >= 0 ? (int)n : -Marshal.GetLastPInvokeError();
        }
    }

    /// <summary>write(2) of the whole buffer in one call; returns the count, or -errno.</summary>
    internal static int Write(int fd, ReadOnlySpan<byte> buffer)
    {
        fixed (byte* p = buffer)
        {
            nint n = WriteNative(fd, p, (nuint)buffer.Length);
            return n >= 0 ? (int)n : -Marshal.GetLastPInvokeError();
        }
    }

    /// <summary>writev(2) of two buffers in one call (one message for /dev/fuse); returns the count, or -errno.</summary>
    internal static int Writev(int fd, ReadOnlySpan<byte> first, ReadOnlySpan<byte> second)
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

    /// <summary>mount(2); returns 0 or errno.</summary>
    internal static int Mount(string source, string target, string fileSystemType, ulong flags, string? data)
        => MountNative(source, target, fileSystemType, flags, data) == 0 ? 0 : Marshal.GetLastPInvokeError();

    /// <summary>umount2(2); returns 0 or errno.</summary>
    internal static int Umount2(string target, int flags)
        => Umount2Native(target, flags) == 0 ? 0 : Marshal.GetLastPInvokeError();

    /// <summary>realpath(3): the canonical absolute path (symlinks resolved).</summary>
    internal static string RealPath(string path)
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

    // struct iovec (sys/uio.h).
    [StructLayout(LayoutKind.Sequential)]
    private struct IoVector
    {
        public byte* Base;
        public nuint Length;
    }

    /// <summary>The text of <paramref name="errno"/>, with the number.</summary>
    internal static string Message(int errno) => $"{Marshal.GetPInvokeErrorMessage(errno)} (errno {errno})";
}

using System.Runtime.InteropServices;

namespace Accelerator.Linux;

public static unsafe partial class LibC
{
    // linux/openat2.h

    /// <summary><c>RESOLVE_NO_MAGICLINKS</c> for <see cref="OpenAt2"/>.</summary>
    public const ulong RESOLVE_NO_MAGICLINKS = 0x02;

    /// <summary><c>RESOLVE_IN_ROOT</c> for <see cref="OpenAt2"/>.</summary>
    public const ulong RESOLVE_IN_ROOT = 0x10;

    // openat2 has the same number on x86-64 and arm64: it came after the system call tables were unified at 424
    // (asm-generic/unistd.h, arch/x86/entry/syscalls/syscall_64.tbl).
    internal const long SYS_openat2 = 437;

    /// <summary>struct timespec (64-bit Linux): seconds and nanoseconds.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct Timespec
    {
        /// <summary>tv_sec.</summary>
        public long Seconds;

        /// <summary>tv_nsec.</summary>
        public long Nanoseconds;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct OpenHow
    {
        public ulong Flags;
        public ulong Mode;
        public ulong Resolve;
    }

    [LibraryImport(Library, EntryPoint = "syscall", SetLastError = true)]
    private static partial long Syscall(long number, int dirfd, byte* path, OpenHow* how, nuint size);

    [LibraryImport(Library, EntryPoint = "openat", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int OpenAtNative(int dirfd, string path, int flags, uint mode);

    [LibraryImport(Library, EntryPoint = "mkdirat", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int MkdirAtNative(int dirfd, string path, uint mode);

    [LibraryImport(Library, EntryPoint = "mknodat", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int MknodAtNative(int dirfd, string path, uint mode, ulong dev);

    [LibraryImport(Library, EntryPoint = "symlinkat", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int SymlinkAtNative(string target, int newdirfd, string linkpath);

    [LibraryImport(Library, EntryPoint = "linkat", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int LinkAtNative(int olddirfd, string oldpath, int newdirfd, string newpath, int flags);

    [LibraryImport(Library, EntryPoint = "unlinkat", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int UnlinkAtNative(int dirfd, string path, int flags);

    [LibraryImport(Library, EntryPoint = "fchownat", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int FchownAtNative(int dirfd, string path, uint owner, uint group, int flags);

    [LibraryImport(Library, EntryPoint = "fchmodat", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int FchmodAtNative(int dirfd, string path, uint mode, int flags);

    [LibraryImport(Library, EntryPoint = "utimensat", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int UtimensAtNative(int dirfd, string path, Timespec* times, int flags);

    /// <summary>openat(2): a descriptor, or -1 with errno.</summary>
    public static int OpenAt(int dirfd, string path, int flags, uint mode) => OpenAtNative(dirfd, path, flags, mode);

    /// <summary>mkdirat(2); 0, or -1 with errno.</summary>
    public static int MkdirAt(int dirfd, string path, uint mode) => MkdirAtNative(dirfd, path, mode);

    /// <summary>mknodat(2); 0, or -1 with errno.</summary>
    public static int MknodAt(int dirfd, string path, uint mode, ulong dev) => MknodAtNative(dirfd, path, mode, dev);

    /// <summary>symlinkat(2); 0, or -1 with errno.</summary>
    public static int SymlinkAt(string target, int newdirfd, string linkpath) => SymlinkAtNative(target, newdirfd, linkpath);

    /// <summary>linkat(2); 0, or -1 with errno.</summary>
    public static int LinkAt(int olddirfd, string oldpath, int newdirfd, string newpath, int flags) => LinkAtNative(olddirfd, oldpath, newdirfd, newpath, flags);

    /// <summary>unlinkat(2) (<see cref="AT_REMOVEDIR"/> for a directory); 0, or -1 with errno.</summary>
    public static int UnlinkAt(int dirfd, string path, int flags) => UnlinkAtNative(dirfd, path, flags);

    /// <summary>fchownat(2); 0, or -1 with errno.</summary>
    public static int FchownAt(int dirfd, string path, uint owner, uint group, int flags) => FchownAtNative(dirfd, path, owner, group, flags);

    /// <summary>fchmodat(2); 0, or -1 with errno.</summary>
    public static int FchmodAt(int dirfd, string path, uint mode, int flags) => FchmodAtNative(dirfd, path, mode, flags);

    /// <summary>utimensat(2) with access and modification times; 0, or -1 with errno.</summary>
    public static int UtimensAt(int dirfd, string path, Timespec accessed, Timespec modified, int flags)
    {
        Timespec* times = stackalloc Timespec[2];
        times[0] = accessed;
        times[1] = modified;
        return UtimensAtNative(dirfd, path, times, flags);
    }

    /// <summary>openat2(2): opens <paramref name="path"/> relative to <paramref name="dirfd"/> with resolve flags; a descriptor, or -1 with errno.</summary>
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

    /// <summary>Sets the access and modification times of <paramref name="path"/>, not following a symbolic link.</summary>
    /// <exception cref="IOException">utimensat failed.</exception>
    public static void SetModificationTime(string path, long seconds, uint nanoseconds)
    {
        var time = new Timespec { Seconds = seconds, Nanoseconds = nanoseconds };
        Check(UtimensAt(AT_FDCWD, path, time, time, AT_SYMLINK_NOFOLLOW), "utimensat", path);
    }

    /// <summary>Sets the access and modification times, in nanoseconds since the Unix epoch, not following a symbolic link.</summary>
    /// <exception cref="IOException">utimensat failed.</exception>
    public static void SetModificationTime(string path, long unixNanoseconds)
    {
        long seconds = Math.DivRem(unixNanoseconds, 1_000_000_000L, out long nanoseconds);
        if (nanoseconds < 0)
        {
            seconds--;
            nanoseconds += 1_000_000_000L;
        }

        SetModificationTime(path, seconds, (uint)nanoseconds);
    }

    /// <summary>
    /// Gives directory <paramref name="target"/> the owner, mode and modification time of <paramref name="source"/>
    /// (an overlay's merged root shows its upper directory's attributes, so a new upper root must carry the image's).
    /// </summary>
    /// <exception cref="IOException">A call failed, or <paramref name="source"/> does not exist.</exception>
    public static void CopyDirectoryAttributes(string source, string target)
    {
        var status = Lstat(source);
        Check(FchownAt(AT_FDCWD, target, status.Uid, status.Gid, AT_SYMLINK_NOFOLLOW), "lchown", target);
        Check(FchmodAt(AT_FDCWD, target, status.Mode & 0xFFF, 0), "chmod", target);
        SetModificationTime(target, status.MtimeSeconds, status.MtimeNanoseconds);
    }
}

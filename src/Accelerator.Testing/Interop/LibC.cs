using System.Runtime.InteropServices;

namespace Accelerator.Testing.Interop;

/// <summary>
/// The few libc calls the test helpers need that .NET does not expose: <c>statx</c> (one struct layout on every
/// architecture, unlike <c>struct stat</c>), the <c>l*xattr</c> family, <c>mknod</c>, <c>lchown</c>, <c>link</c> and
/// <c>utimensat</c>. Each wrapper throws <see cref="IOException"/> carrying errno and the path on failure.
/// </summary>
internal static partial class LibC
{
    private const string Library = "libc";

    // fcntl.h
    internal const int AtFdCwd = -100;
    internal const int AtSymlinkNoFollow = 0x100;

    // linux/stat.h: STATX_BASIC_STATS
    internal const uint StatxBasicStats = 0x7ff;

    // errno values (asm-generic/errno-base.h, errno.h)
    internal const int ERANGE = 34;
    internal const int ENODATA = 61;
    internal const int EOPNOTSUPP = 95;

    // sys/stat.h file type bits
    internal const uint S_IFMT = 0xF000;
    internal const uint S_IFSOCK = 0xC000;
    internal const uint S_IFLNK = 0xA000;
    internal const uint S_IFREG = 0x8000;
    internal const uint S_IFBLK = 0x6000;
    internal const uint S_IFDIR = 0x4000;
    internal const uint S_IFCHR = 0x2000;
    internal const uint S_IFIFO = 0x1000;

    [LibraryImport(Library, EntryPoint = "statx", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static unsafe partial int StatxNative(int dirfd, string path, int flags, uint mask, byte* buffer);

    [LibraryImport(Library, EntryPoint = "llistxattr", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static unsafe partial nint LListXattrNative(string path, byte* list, nuint size);

    [LibraryImport(Library, EntryPoint = "lgetxattr", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static unsafe partial nint LGetXattrNative(string path, string name, byte* value, nuint size);

    [LibraryImport(Library, EntryPoint = "lsetxattr", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static unsafe partial int LSetXattrNative(string path, string name, byte* value, nuint size, int flags);

    [LibraryImport(Library, EntryPoint = "lremovexattr", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int LRemoveXattrNative(string path, string name);

    [LibraryImport(Library, EntryPoint = "mknod", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int MknodNative(string path, uint mode, ulong dev);

    [LibraryImport(Library, EntryPoint = "lchown", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int LChownNative(string path, uint uid, uint gid);

    [LibraryImport(Library, EntryPoint = "link", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int LinkNative(string existing, string newPath);

    [LibraryImport(Library, EntryPoint = "utimensat", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static unsafe partial int UtimensatNative(int dirfd, string path, long* times, int flags);

    /// <summary>lstat-like <c>statx</c> of <paramref name="path"/> (symlinks are not followed).</summary>
    internal static unsafe StatxResult LStat(string path)
    {
        // struct statx is 256 bytes (linux/stat.h); offsets below are from that header.
        byte* buffer = stackalloc byte[256];
        new Span<byte>(buffer, 256).Clear();
        if (StatxNative(AtFdCwd, path, AtSymlinkNoFollow, StatxBasicStats, buffer) != 0)
        {
            throw Error("statx", path);
        }

        var b = new ReadOnlySpan<byte>(buffer, 256);
        return new StatxResult(
            Mode: BitConverter.ToUInt16(b[28..]),
            Uid: BitConverter.ToUInt32(b[20..]),
            Gid: BitConverter.ToUInt32(b[24..]),
            LinkCount: BitConverter.ToUInt32(b[16..]),
            Inode: BitConverter.ToUInt64(b[32..]),
            Size: BitConverter.ToInt64(b[40..]),
            Blocks: BitConverter.ToInt64(b[48..]),
            MtimeSeconds: BitConverter.ToInt64(b[112..]),
            MtimeNanoseconds: BitConverter.ToUInt32(b[120..]),
            RdevMajor: BitConverter.ToUInt32(b[128..]),
            RdevMinor: BitConverter.ToUInt32(b[132..]),
            DevMajor: BitConverter.ToUInt32(b[136..]),
            DevMinor: BitConverter.ToUInt32(b[140..]));
    }

    /// <summary>The extended attribute names of <paramref name="path"/> (the link itself for symlinks).</summary>
    internal static unsafe IReadOnlyList<string> LListXattr(string path)
    {
        while (true)
        {
            nint size = LListXattrNative(path, null, 0);
            if (size < 0)
            {
                int errno = Marshal.GetLastPInvokeError();
                if (errno == EOPNOTSUPP)
                {
                    return [];
                }

                throw Error("llistxattr", path, errno);
            }

            if (size == 0)
            {
                return [];
            }

            var list = new byte[size];
            fixed (byte* p = list)
            {
                nint got = LListXattrNative(path, p, (nuint)list.Length);
                if (got < 0)
                {
                    int errno = Marshal.GetLastPInvokeError();
                    if (errno == ERANGE)
                    {
                        continue; // grew between the two calls
                    }

                    throw Error("llistxattr", path, errno);
                }

                // The list is a sequence of NUL-terminated names.
                var names = new List<string>();
                var span = list.AsSpan(0, (int)got);
                while (!span.IsEmpty)
                {
                    int end = span.IndexOf((byte)0);
                    if (end < 0)
                    {
                        end = span.Length;
                    }

                    if (end > 0)
                    {
                        names.Add(System.Text.Encoding.UTF8.GetString(span[..end]));
                    }

                    span = end < span.Length ? span[(end + 1)..] : [];
                }

                return names;
            }
        }
    }

    /// <summary>The value of one extended attribute, or null when it is absent.</summary>
    internal static unsafe byte[]? LGetXattr(string path, string name)
    {
        while (true)
        {
            nint size = LGetXattrNative(path, name, null, 0);
            if (size < 0)
            {
                int errno = Marshal.GetLastPInvokeError();
                if (errno == ENODATA)
                {
                    return null;
                }

                throw Error($"lgetxattr {name}", path, errno);
            }

            var value = new byte[size];
            fixed (byte* p = value)
            {
                nint got = LGetXattrNative(path, name, p, (nuint)value.Length);
                if (got < 0)
                {
                    int errno = Marshal.GetLastPInvokeError();
                    if (errno == ERANGE)
                    {
                        continue;
                    }

                    throw Error($"lgetxattr {name}", path, errno);
                }

                return got == value.Length ? value : value[..(int)got];
            }
        }
    }

    /// <summary>Sets an extended attribute on <paramref name="path"/> (the link itself for symlinks).</summary>
    internal static unsafe void LSetXattr(string path, string name, ReadOnlySpan<byte> value)
    {
        fixed (byte* p = value)
        {
            if (LSetXattrNative(path, name, p, (nuint)value.Length, 0) != 0)
            {
                throw Error($"lsetxattr {name}", path);
            }
        }
    }

    /// <summary>Removes an extended attribute.</summary>
    internal static void LRemoveXattr(string path, string name)
    {
        if (LRemoveXattrNative(path, name) != 0)
        {
            throw Error($"lremovexattr {name}", path);
        }
    }

    /// <summary>Creates a device node or fifo; <paramref name="mode"/> includes the file type bits.</summary>
    internal static void Mknod(string path, uint mode, uint major, uint minor)
    {
        if (MknodNative(path, mode, MakeDev(major, minor)) != 0)
        {
            throw Error("mknod", path);
        }
    }

    /// <summary>Changes the owner of <paramref name="path"/> without following symlinks.</summary>
    internal static void LChown(string path, uint uid, uint gid)
    {
        if (LChownNative(path, uid, gid) != 0)
        {
            throw Error("lchown", path);
        }
    }

    /// <summary>Creates a hard link <paramref name="newPath"/> to <paramref name="existing"/>.</summary>
    internal static void Link(string existing, string newPath)
    {
        if (LinkNative(existing, newPath) != 0)
        {
            throw Error("link", newPath);
        }
    }

    /// <summary>Sets atime and mtime (Unix nanoseconds) without following symlinks.</summary>
    internal static unsafe void LSetTimes(string path, long unixNanoseconds)
    {
        // struct timespec[2] { atime, mtime }, each { time_t tv_sec; long tv_nsec } (64-bit Linux).
        long seconds = Math.DivRem(unixNanoseconds, 1_000_000_000L, out long nanos);
        if (nanos < 0)
        {
            seconds--;
            nanos += 1_000_000_000L;
        }

        long* times = stackalloc long[4] { seconds, nanos, seconds, nanos };
        if (UtimensatNative(AtFdCwd, path, times, AtSymlinkNoFollow) != 0)
        {
            throw Error("utimensat", path);
        }
    }

    // glibc's gnu_dev_makedev (sys/sysmacros.h): 12 bits of major and 20 of minor split across the 64-bit dev_t.
    internal static ulong MakeDev(uint major, uint minor)
        => ((ulong)(major & 0xfffff000u) << 32) | ((ulong)(major & 0xfffu) << 8)
         | ((ulong)(minor & 0xffffff00u) << 12) | (minor & 0xffu);

    private static IOException Error(string call, string path) => Error(call, path, Marshal.GetLastPInvokeError());

    private static IOException Error(string call, string path, int errno)
        => new($"{call} '{path}' failed: {Marshal.GetPInvokeErrorMessage(errno)} (errno {errno}).", errno);
}

/// <summary>The fields of <c>struct statx</c> the helpers use.</summary>
internal readonly record struct StatxResult(
    ushort Mode,
    uint Uid,
    uint Gid,
    uint LinkCount,
    ulong Inode,
    long Size,
    long Blocks,
    long MtimeSeconds,
    uint MtimeNanoseconds,
    uint RdevMajor,
    uint RdevMinor,
    uint DevMajor,
    uint DevMinor);

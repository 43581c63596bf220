using System.Runtime.InteropServices;
using System.Text;

namespace Accelerator.Testing.Conformance;

/// <summary>
/// Raw system calls the mount conformance suite checks errno semantics with (the friendly wrappers elsewhere hide
/// them): getxattr/listxattr with chosen buffer sizes, opens and creations that must fail, getdents64 with a small
/// buffer. Linux x86_64 and arm64.
/// </summary>
internal static unsafe partial class PosixCalls
{
    private const string Library = "libc";

    // asm-generic/fcntl.h; O_DIRECTORY differs on arm64.
    internal const int O_RDONLY = 0;
    internal const int O_WRONLY = 1;
    internal const int O_RDWR = 2;
    internal const int O_CREAT = 0x40;
    internal const int O_TRUNC = 0x200;
    internal const int O_CLOEXEC = 0x80000;
    internal static readonly int O_DIRECTORY = Accelerator.Oci.IO.LinuxOpenFlags.Current.Directory;

    // errno values
    internal const int ENOENT = 2;
    internal const int EACCES = 13;
    internal const int EROFS = 30;
    internal const int ERANGE = 34;
    internal const int ENODATA = 61;

    [LibraryImport(Library, EntryPoint = "lgetxattr", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial nint LGetXattrNative(string path, string name, byte* value, nuint size);

    [LibraryImport(Library, EntryPoint = "llistxattr", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial nint LListXattrNative(string path, byte* list, nuint size);

    [LibraryImport(Library, EntryPoint = "lsetxattr", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int LSetXattrNative(string path, string name, byte* value, nuint size, int flags);

    [LibraryImport(Library, EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int OpenNative(string path, int flags, uint mode);

    [LibraryImport(Library, EntryPoint = "close", SetLastError = true)]
    private static partial int CloseNative(int fd);

    [LibraryImport(Library, EntryPoint = "mkdir", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int MkdirNative(string path, uint mode);

    [LibraryImport(Library, EntryPoint = "unlink", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int UnlinkNative(string path);

    [LibraryImport(Library, EntryPoint = "chmod", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int ChmodNative(string path, uint mode);

    [LibraryImport(Library, EntryPoint = "getdents64", SetLastError = true)]
    private static partial nint GetDents64Native(int fd, byte* buffer, nuint count);

    /// <summary>lgetxattr with a buffer of <paramref name="size"/> bytes: (result, errno); result -1 on error.</summary>
    internal static (long Result, int Errno, byte[] Value) LGetXattr(string path, string name, int size)
    {
        byte[] buffer = new byte[Math.Max(1, size)];
        fixed (byte* p = buffer)
        {
            nint n = LGetXattrNative(path, name, size == 0 ? null : p, (nuint)size);
            return n < 0 ? (-1, Marshal.GetLastPInvokeError(), []) : (n, 0, size == 0 ? [] : buffer[..(int)n]);
        }
    }

    /// <summary>llistxattr with a buffer of <paramref name="size"/> bytes: (result, errno, raw list).</summary>
    internal static (long Result, int Errno, byte[] List) LListXattr(string path, int size)
    {
        byte[] buffer = new byte[Math.Max(1, size)];
        fixed (byte* p = buffer)
        {
            nint n = LListXattrNative(path, size == 0 ? null : p, (nuint)size);
            return n < 0 ? (-1, Marshal.GetLastPInvokeError(), []) : (n, 0, size == 0 ? [] : buffer[..(int)n]);
        }
    }

    /// <summary>lsetxattr; 0 or errno.</summary>
    internal static int LSetXattr(string path, string name, ReadOnlySpan<byte> value)
    {
        fixed (byte* p = value)
        {
            return LSetXattrNative(path, name, p, (nuint)value.Length, 0) == 0 ? 0 : Marshal.GetLastPInvokeError();
        }
    }

    /// <summary>open(2) then close; 0 when it opened, else errno.</summary>
    internal static int TryOpen(string path, int flags, uint mode = 0x1A4)
    {
        int fd = OpenNative(path, flags | O_CLOEXEC, mode);
        if (fd < 0)
        {
            return Marshal.GetLastPInvokeError();
        }

        CloseNative(fd);
        return 0;
    }

    /// <summary>mkdir(2); 0 or errno.</summary>
    internal static int Mkdir(string path) => MkdirNative(path, 0x1ED) == 0 ? 0 : Marshal.GetLastPInvokeError();

    /// <summary>unlink(2); 0 or errno.</summary>
    internal static int Unlink(string path) => UnlinkNative(path) == 0 ? 0 : Marshal.GetLastPInvokeError();

    /// <summary>chmod(2); 0 or errno.</summary>
    internal static int Chmod(string path, uint mode) => ChmodNative(path, mode) == 0 ? 0 : Marshal.GetLastPInvokeError();

    /// <summary>
    /// Lists a directory with getdents64(2) and a buffer of <paramref name="bufferSize"/> bytes, so a big directory
    /// takes many calls that each continue from the previous one's offset. Returns every name, "." and ".." included.
    /// </summary>
    internal static List<string> ReadDirectoryNames(string path, int bufferSize)
    {
        int fd = OpenNative(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
        if (fd < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            throw new IOException($"open '{path}' failed: {Marshal.GetPInvokeErrorMessage(errno)}", errno);
        }

        try
        {
            var names = new List<string>();
            byte[] buffer = new byte[bufferSize];
            fixed (byte* p = buffer)
            {
                while (true)
                {
                    nint n = GetDents64Native(fd, p, (nuint)buffer.Length);
                    if (n < 0)
                    {
                        int errno = Marshal.GetLastPInvokeError();
                        throw new IOException($"getdents64 '{path}' failed: {Marshal.GetPInvokeErrorMessage(errno)}", errno);
                    }

                    if (n == 0)
                    {
                        return names;
                    }

                    // struct linux_dirent64 { u64 d_ino; s64 d_off; u16 d_reclen; u8 d_type; char d_name[]; }
                    int at = 0;
                    while (at < n)
                    {
                        int length = BitConverter.ToUInt16(buffer, at + 16);
                        int nameEnd = Array.IndexOf(buffer, (byte)0, at + 19, length - 19);
                        names.Add(Encoding.UTF8.GetString(buffer, at + 19, nameEnd - (at + 19)));
                        at += length;
                    }
                }
            }
        }
        finally
        {
            CloseNative(fd);
        }
    }
}

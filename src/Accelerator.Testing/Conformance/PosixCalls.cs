using System.Runtime.InteropServices;
using System.Text;
using Accelerator.Linux;

namespace Accelerator.Testing.Conformance;

/// <summary>
/// Raw system calls the mount conformance suite checks errno semantics with (the friendly wrappers elsewhere hide
/// them): getxattr/listxattr with chosen buffer sizes, opens and creations that must fail, getdents64 with a small
/// buffer. The calls themselves are Accelerator.Linux's LibC.
/// </summary>
internal static class PosixCalls
{
    internal const int O_RDONLY = LibC.O_RDONLY;
    internal const int O_WRONLY = LibC.O_WRONLY;
    internal const int O_RDWR = LibC.O_RDWR;
    internal const int O_CREAT = LibC.O_CREAT;
    internal const int O_TRUNC = LibC.O_TRUNC;

    internal const int ENOENT = Errno.ENOENT;
    internal const int EACCES = Errno.EACCES;
    internal const int EROFS = Errno.EROFS;
    internal const int ERANGE = Errno.ERANGE;
    internal const int ENODATA = Errno.ENODATA;

    /// <summary>lgetxattr with a buffer of <paramref name="size"/> bytes: (result, errno); result -1 on error.</summary>
    internal static (long Result, int Errno, byte[] Value) LGetXattr(string path, string name, int size)
    {
        byte[] buffer = new byte[size];
        nint n = LibC.LGetXattr(path, name, buffer);
        return n < 0 ? (-1, Marshal.GetLastPInvokeError(), []) : (n, 0, size == 0 ? [] : buffer[..(int)n]);
    }

    /// <summary>llistxattr with a buffer of <paramref name="size"/> bytes: (result, errno, raw list).</summary>
    internal static (long Result, int Errno, byte[] List) LListXattr(string path, int size)
    {
        byte[] buffer = new byte[size];
        nint n = LibC.LListXattr(path, buffer);
        return n < 0 ? (-1, Marshal.GetLastPInvokeError(), []) : (n, 0, size == 0 ? [] : buffer[..(int)n]);
    }

    /// <summary>lsetxattr; 0 or errno.</summary>
    internal static int LSetXattr(string path, string name, ReadOnlySpan<byte> value)
        => LibC.LSetXattr(path, name, value) == 0 ? 0 : Marshal.GetLastPInvokeError();

    /// <summary>open(2) then close; 0 when it opened, else errno.</summary>
    internal static int TryOpen(string path, int flags, uint mode = 0x1A4)
    {
        int fd = LibC.Open(path, flags | LibC.O_CLOEXEC, mode);
        if (fd < 0)
        {
            return Marshal.GetLastPInvokeError();
        }

        LibC.Close(fd);
        return 0;
    }

    /// <summary>mkdir(2); 0 or errno.</summary>
    internal static int Mkdir(string path) => LibC.Mkdir(path, 0x1ED) == 0 ? 0 : Marshal.GetLastPInvokeError();

    /// <summary>unlink(2); 0 or errno.</summary>
    internal static int Unlink(string path) => LibC.Unlink(path) == 0 ? 0 : Marshal.GetLastPInvokeError();

    /// <summary>chmod(2); 0 or errno.</summary>
    internal static int Chmod(string path, uint mode) => LibC.Chmod(path, mode) == 0 ? 0 : Marshal.GetLastPInvokeError();

    /// <summary>
    /// Lists a directory with getdents64(2) and a buffer of <paramref name="bufferSize"/> bytes, so a big directory
    /// takes many calls that each continue from the previous one's offset. Returns every name, "." and ".." included.
    /// </summary>
    internal static List<string> ReadDirectoryNames(string path, int bufferSize)
    {
        int fd = LibC.Open(path, LibC.O_RDONLY | LibC.O_DIRECTORY | LibC.O_CLOEXEC);
        if (fd < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            throw new IOException($"open '{path}' failed: {Marshal.GetPInvokeErrorMessage(errno)}", errno);
        }

        try
        {
            var names = new List<string>();
            byte[] buffer = new byte[bufferSize];
            while (true)
            {
                nint n = LibC.GetDents64(fd, buffer);
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
        finally
        {
            LibC.Close(fd);
        }
    }
}

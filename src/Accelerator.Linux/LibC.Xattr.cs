using System.Runtime.InteropServices;
using System.Text;

namespace Accelerator.Linux;

public static unsafe partial class LibC
{
    [LibraryImport(Library, EntryPoint = "setxattr", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int SetxattrNative(string path, string name, byte* value, nuint size, int flags);

    [LibraryImport(Library, EntryPoint = "lsetxattr", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int LsetxattrNative(string path, string name, byte* value, nuint size, int flags);

    [LibraryImport(Library, EntryPoint = "lgetxattr", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial nint LgetxattrNative(string path, string name, byte* value, nuint size);

    [LibraryImport(Library, EntryPoint = "llistxattr", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial nint LlistxattrNative(string path, byte* list, nuint size);

    [LibraryImport(Library, EntryPoint = "lremovexattr", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int LremovexattrNative(string path, string name);

    /// <summary>lgetxattr(2) into <paramref name="value"/> (empty: ask for the size); the length, or -1 with errno.</summary>
    public static nint LGetXattr(string path, string name, Span<byte> value)
    {
        fixed (byte* p = value)
        {
            return LgetxattrNative(path, name, p, (nuint)value.Length);
        }
    }

    /// <summary>llistxattr(2) into <paramref name="list"/> (empty: ask for the size); the length, or -1 with errno.</summary>
    public static nint LListXattr(string path, Span<byte> list)
    {
        fixed (byte* p = list)
        {
            return LlistxattrNative(path, p, (nuint)list.Length);
        }
    }

    /// <summary>lsetxattr(2) of a whole value; 0, or -1 with errno.</summary>
    public static int LSetXattr(string path, string name, ReadOnlySpan<byte> value)
    {
        fixed (byte* p = value)
        {
            return LsetxattrNative(path, name, p, (nuint)value.Length, 0);
        }
    }

    /// <summary>The value of one extended attribute of <paramref name="path"/> (the link itself for a symbolic link); null when it is absent or the file system has none.</summary>
    /// <exception cref="IOException">lgetxattr failed for another reason.</exception>
    public static byte[]? GetXattr(string path, string name)
    {
        while (true)
        {
            nint size = LGetXattr(path, name, []);
            if (size < 0)
            {
                int errno = Marshal.GetLastPInvokeError();
                return errno is Errno.ENODATA or Errno.EOPNOTSUPP ? null : throw Error(errno, $"lgetxattr {name}", path);
            }

            byte[] value = new byte[size];
            nint got = size == 0 ? 0 : LGetXattr(path, name, value);
            if (got < 0)
            {
                int errno = Marshal.GetLastPInvokeError();
                if (errno == Errno.ERANGE)
                {
                    continue; // grew between the two calls
                }

                return errno == Errno.ENODATA ? null : throw Error(errno, $"lgetxattr {name}", path);
            }

            return got == value.Length ? value : value[..(int)got];
        }
    }

    /// <summary>The extended attribute names of <paramref name="path"/> (the link itself for a symbolic link); none where the file system has no xattrs.</summary>
    /// <exception cref="IOException">llistxattr failed.</exception>
    public static IReadOnlyList<string> ListXattrs(string path)
    {
        while (true)
        {
            nint size = LListXattr(path, []);
            if (size < 0)
            {
                int errno = Marshal.GetLastPInvokeError();
                return errno == Errno.EOPNOTSUPP ? [] : throw Error(errno, "llistxattr", path);
            }

            if (size == 0)
            {
                return [];
            }

            byte[] list = new byte[size];
            nint got = LListXattr(path, list);
            if (got < 0)
            {
                int errno = Marshal.GetLastPInvokeError();
                if (errno == Errno.ERANGE)
                {
                    continue; // grew between the two calls
                }

                throw Error(errno, "llistxattr", path);
            }

            // The list is a sequence of NUL-terminated names.
            var names = new List<string>();
            foreach (var name in list.AsSpan(0, (int)got).Split((byte)0))
            {
                if (name.End.Value > name.Start.Value)
                {
                    names.Add(Encoding.UTF8.GetString(list.AsSpan(name)));
                }
            }

            return names;
        }
    }

    /// <summary>lsetxattr(2) of a whole value (the link itself for a symbolic link).</summary>
    /// <exception cref="IOException">lsetxattr failed.</exception>
    public static void SetXattr(string path, string name, ReadOnlySpan<byte> value)
        => Check(LSetXattr(path, name, value), $"setxattr {name} on", path);

    /// <summary>setxattr(2) of a whole value on the inode an open descriptor holds.</summary>
    /// <exception cref="IOException">setxattr failed.</exception>
    public static void SetXattr(int fd, string name, ReadOnlySpan<byte> value)
    {
        string path = DescriptorPath(fd);
        fixed (byte* p = value)
        {
            Check(SetxattrNative(path, name, p, (nuint)value.Length, 0), $"setxattr {name} on", path);
        }
    }

    /// <summary>Removes an extended attribute (of the link itself for a symbolic link).</summary>
    /// <exception cref="IOException">lremovexattr failed.</exception>
    public static void RemoveXattr(string path, string name) => Check(LremovexattrNative(path, name), $"lremovexattr {name}", path);
}

using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Accelerator.Linux;

namespace Accelerator.Fuse.Protocol;

/// <summary>
/// Writes replies into a caller's buffer: the <c>fuse_out_header</c> and the body, ready to be sent with one write(2)
/// (the kernel takes a reply only whole). Each method returns the reply's length; a buffer too small throws
/// <see cref="ArgumentException"/> (a caller's bug, not bad input).
/// </summary>
public static class FuseReply
{
    /// <summary>An error reply: the header alone with <c>error = -errno</c>.</summary>
    /// <param name="destination">The buffer.</param>
    /// <param name="unique">The request's unique.</param>
    /// <param name="errno">A positive errno, 1 to 4095.</param>
    public static int WriteError(Span<byte> destination, ulong unique, int errno)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(errno, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(errno, Errno.MaxErrno);
        return WriteHeader(destination, unique, 0, -errno);
    }

    /// <summary>A success reply without a body.</summary>
    public static int WriteEmpty(Span<byte> destination, ulong unique) => WriteHeader(destination, unique, 0, 0);

    /// <summary>A success reply whose body is the first <paramref name="bodySize"/> bytes of <paramref name="body"/>.</summary>
    /// <param name="destination">The buffer.</param>
    /// <param name="unique">The request's unique.</param>
    /// <param name="body">The structure.</param>
    /// <param name="bodySize">Bytes of it to send (a compat prefix for older protocols); -1 for all.</param>
    public static int Write<T>(Span<byte> destination, ulong unique, in T body, int bodySize = -1)
        where T : unmanaged
    {
        var bytes = MemoryMarshal.AsBytes(new ReadOnlySpan<T>(in body));
        if (bodySize >= 0)
        {
            ArgumentOutOfRangeException.ThrowIfGreaterThan(bodySize, bytes.Length);
            bytes = bytes[..bodySize];
        }

        return WriteData(destination, unique, bytes);
    }

    /// <summary>A success reply whose body is <paramref name="data"/> (READ, READLINK, GETXATTR values…).</summary>
    public static int WriteData(Span<byte> destination, ulong unique, ReadOnlySpan<byte> data)
    {
        data.CopyTo(destination[FuseProtocol.OutHeaderSize..]);
        return WriteHeader(destination, unique, data.Length, 0);
    }

    /// <summary>
    /// Writes only the 16-byte header of a success reply with a <paramref name="bodyLength"/>-byte body that the caller
    /// put after it in the same buffer (a listing filled in place) or sends right after it in the same writev(2) (READ
    /// data). Returns the whole reply's length.
    /// </summary>
    public static int WriteHeader(Span<byte> destination, ulong unique, int bodyLength)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(bodyLength);
        if (destination.Length < FuseProtocol.OutHeaderSize)
        {
            throw new ArgumentException($"A reply header needs {FuseProtocol.OutHeaderSize} bytes.", nameof(destination));
        }

        var header = new FuseOutHeader { Length = (uint)(FuseProtocol.OutHeaderSize + bodyLength), Error = 0, Unique = unique };
        MemoryMarshal.Write(destination, in header);
        return FuseProtocol.OutHeaderSize + bodyLength;
    }

    /// <summary>
    /// A notification without a body (<see cref="FuseNotifyCode.Resend"/>): the 16-byte header with unique 0 and the
    /// code in <c>error</c> (fs/fuse/dev.c, fuse_dev_do_write: a zero unique is a notification).
    /// </summary>
    public static int WriteNotification(Span<byte> destination, FuseNotifyCode code)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan((int)code, 1);
        return WriteHeader(destination, FuseProtocol.NotificationUnique, 0, (int)code);
    }

    /// <summary>A notification with a body (<see cref="FuseNotifyCode.Retrieve"/>): header with unique 0, then the body.</summary>
    public static int WriteNotification<T>(Span<byte> destination, FuseNotifyCode code, in T body)
        where T : unmanaged
    {
        ArgumentOutOfRangeException.ThrowIfLessThan((int)code, 1);
        var bytes = MemoryMarshal.AsBytes(new ReadOnlySpan<T>(in body));
        bytes.CopyTo(destination[FuseProtocol.OutHeaderSize..]);
        return WriteHeader(destination, FuseProtocol.NotificationUnique, bytes.Length, (int)code);
    }

    /// <summary>The size of <c>fuse_entry_out</c> in protocol <paramref name="minor"/>.</summary>
    public static int EntryOutSize(uint minor) => minor < 9 ? FuseProtocol.CompatEntryOutSize : Unsafe.SizeOf<FuseEntryOut>();

    /// <summary>The size of <c>fuse_attr_out</c> in protocol <paramref name="minor"/>.</summary>
    public static int AttrOutSize(uint minor) => minor < 9 ? FuseProtocol.CompatAttrOutSize : Unsafe.SizeOf<FuseAttrOut>();

    /// <summary>The size of <c>fuse_statfs_out</c> in protocol <paramref name="minor"/>.</summary>
    public static int StatfsOutSize(uint minor) => minor < 4 ? FuseProtocol.CompatStatfsSize : Unsafe.SizeOf<FuseKstatfs>();

    private static int WriteHeader(Span<byte> destination, ulong unique, int bodyLength, int error)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(bodyLength);
        int length = FuseProtocol.OutHeaderSize + bodyLength;
        if (destination.Length < length)
        {
            throw new ArgumentException($"A reply of {length} bytes does not fit in {destination.Length}.", nameof(destination));
        }

        var header = new FuseOutHeader { Length = (uint)length, Error = error, Unique = unique };
        MemoryMarshal.Write(destination, in header);
        return length;
    }
}

/// <summary>
/// Appends directory records to a READDIR (<c>fuse_dirent</c>) or READDIRPLUS (<c>fuse_direntplus</c>) reply body: the
/// fixed part, the name, and zeroed padding to 8 bytes (FUSE_DIRENT_ALIGN). A record that does not fit is refused, so
/// the reply stops at the last whole record.
/// </summary>
public ref struct FuseDirectoryWriter
{
    private readonly Span<byte> _destination;
    private int _length;

    /// <summary>Writes into <paramref name="destination"/> (a reply's body, at most the request's size).</summary>
    public FuseDirectoryWriter(Span<byte> destination)
    {
        _destination = destination;
        _length = 0;
    }

    /// <summary>The bytes written.</summary>
    public readonly int Length => _length;

    /// <summary>Appends a READDIR record.</summary>
    /// <param name="name">The name (1–255 bytes, no NUL).</param>
    /// <param name="inode">d_ino.</param>
    /// <param name="type">The DT_* type.</param>
    /// <param name="nextOffset">The cookie that continues after this entry.</param>
    /// <returns>False when the record does not fit (nothing is written).</returns>
    public bool TryAdd(ReadOnlySpan<byte> name, ulong inode, uint type, ulong nextOffset)
    {
        CheckName(name);
        int size = FuseProtocol.DirentAlign(FuseProtocol.DirentNameOffset + name.Length);
        if (_destination.Length - _length < size)
        {
            return false;
        }

        var record = _destination.Slice(_length, size);
        var dirent = new FuseDirent { Ino = inode, Offset = nextOffset, NameLength = (uint)name.Length, Type = type };
        MemoryMarshal.Write(record, in dirent);
        name.CopyTo(record[FuseProtocol.DirentNameOffset..]);
        record[(FuseProtocol.DirentNameOffset + name.Length)..].Clear();
        _length += size;
        return true;
    }

    /// <summary>Appends a READDIRPLUS record: the entry (node id 0 for "." and "..": no lookup is counted) and the dirent.</summary>
    /// <returns>False when the record does not fit (nothing is written).</returns>
    public bool TryAddPlus(ReadOnlySpan<byte> name, in FuseEntryOut entry, uint type, ulong nextOffset)
    {
        CheckName(name);
        int size = FuseProtocol.DirentAlign(FuseProtocol.DirentPlusNameOffset + name.Length);
        if (_destination.Length - _length < size)
        {
            return false;
        }

        var record = _destination.Slice(_length, size);
        MemoryMarshal.Write(record, in entry);
        var dirent = new FuseDirent { Ino = entry.Attr.Ino, Offset = nextOffset, NameLength = (uint)name.Length, Type = type };
        MemoryMarshal.Write(record[Unsafe.SizeOf<FuseEntryOut>()..], in dirent);
        name.CopyTo(record[FuseProtocol.DirentPlusNameOffset..]);
        record[(FuseProtocol.DirentPlusNameOffset + name.Length)..].Clear();
        _length += size;
        return true;
    }

    private static void CheckName(ReadOnlySpan<byte> name)
    {
        if (name.IsEmpty || name.Length > FuseProtocol.MaxNameLength || name.Contains((byte)0))
        {
            throw new ArgumentException($"A directory entry name must be 1 to {FuseProtocol.MaxNameLength} bytes without NUL.", nameof(name));
        }
    }
}

using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Accelerator.Fuse.Protocol;

/// <summary>
/// One request as read from <c>/dev/fuse</c>: the header and the arguments, as a view over the read buffer. Every length
/// is checked before it is used: <see cref="Parse"/> checks the header against the bytes read, and each <c>Read…</c>
/// method checks the arguments against its structure. Malformed input throws <see cref="FuseProtocolException"/>, nothing
/// else (no out-of-range read, no other exception type).
/// </summary>
public readonly ref struct FuseRequest
{
    private FuseRequest(FuseInHeader header, ReadOnlySpan<byte> arguments)
    {
        Header = header;
        Arguments = arguments;
    }

    /// <summary>The header.</summary>
    public FuseInHeader Header { get; }

    /// <summary>The operation.</summary>
    public FuseOpcode Opcode => (FuseOpcode)Header.Opcode;

    /// <summary>The request id the reply carries.</summary>
    public ulong Unique => Header.Unique;

    /// <summary>The node the request is about.</summary>
    public ulong NodeId => Header.NodeId;

    /// <summary>The arguments after the header, without the extensions (7.36+) that may follow them.</summary>
    public ReadOnlySpan<byte> Arguments { get; }

    /// <summary>
    /// Parses the header of <paramref name="message"/>, which must be exactly the bytes one read(2) of the device
    /// returned.
    /// </summary>
    /// <exception cref="FuseProtocolException">The message is shorter than a header, its length field disagrees with
    /// its size, or its extensions run past its end.</exception>
    public static FuseRequest Parse(ReadOnlySpan<byte> message)
    {
        if (!TryReadHeader(message, out var header))
        {
            throw new FuseProtocolException($"A FUSE request of {message.Length} bytes is shorter than its {FuseProtocol.InHeaderSize}-byte header.");
        }

        if (header.Length != (uint)message.Length)
        {
            throw new FuseProtocolException($"A FUSE request says it is {header.Length} bytes long but {message.Length} were read.");
        }

        int extensions = header.TotalExtensionLength * 8;
        int argumentsLength = message.Length - FuseProtocol.InHeaderSize - extensions;
        if (argumentsLength < 0)
        {
            throw new FuseProtocolException($"A FUSE request's {extensions} bytes of extensions run past its end ({message.Length} bytes).");
        }

        return new FuseRequest(header, message.Slice(FuseProtocol.InHeaderSize, argumentsLength));
    }

    /// <summary>
    /// Reads the header of <paramref name="message"/> without checking it against the message, so that a malformed
    /// request can still be answered with an error; false when fewer bytes than a header were read.
    /// </summary>
    public static bool TryReadHeader(ReadOnlySpan<byte> message, out FuseInHeader header)
    {
        if (message.Length < FuseProtocol.InHeaderSize)
        {
            header = default;
            return false;
        }

        header = MemoryMarshal.Read<FuseInHeader>(message);
        return true;
    }

    /// <summary>Reads the arguments as <typeparamref name="T"/>; extra bytes after it (newer protocol fields) are ignored.</summary>
    /// <exception cref="FuseProtocolException">The arguments are shorter than <typeparamref name="T"/>.</exception>
    public T Read<T>()
        where T : unmanaged
    {
        int size = Unsafe.SizeOf<T>();
        if (Arguments.Length < size)
        {
            throw Short(typeof(T).Name, size);
        }

        return MemoryMarshal.Read<T>(Arguments);
    }

    /// <summary>
    /// Reads INIT's arguments: 16 bytes from kernels before 7.36, 64 bytes after; <see cref="FuseInitIn.Flags2"/> is
    /// zero unless the kernel sent it.
    /// </summary>
    /// <exception cref="FuseProtocolException">Fewer than 16 bytes.</exception>
    public FuseInitIn ReadInit() => ReadPrefix<FuseInitIn>(FuseProtocol.CompatInitInSize);

    /// <summary>Reads the arguments of READ, READDIR or READDIRPLUS (24 bytes before 7.9, 40 after).</summary>
    /// <exception cref="FuseProtocolException">Fewer than 24 bytes.</exception>
    public FuseReadIn ReadRead() => ReadPrefix<FuseReadIn>(FuseProtocol.CompatReadInSize);

    /// <summary>
    /// Reads GETATTR's arguments; kernels before 7.9 send none, which reads as all zero.
    /// </summary>
    public FuseGetAttrIn ReadGetAttr() => ReadPrefix<FuseGetAttrIn>(0);

    /// <summary>Reads the NUL-terminated name that is LOOKUP's argument.</summary>
    /// <exception cref="FuseProtocolException">No NUL, an empty name, or one longer than 255 bytes.</exception>
    public ReadOnlySpan<byte> ReadName() => ReadName(Arguments, "name");

    /// <summary>Reads GETXATTR's arguments: the size and the NUL-terminated attribute name.</summary>
    /// <exception cref="FuseProtocolException">Too short, no NUL, or a bad name.</exception>
    public FuseGetXattrIn ReadGetXattr(out ReadOnlySpan<byte> name)
    {
        var fixedPart = Read<FuseGetXattrIn>();
        name = ReadName(Arguments[Unsafe.SizeOf<FuseGetXattrIn>()..], "attribute name");
        return fixedPart;
    }

    /// <summary>Reads BATCH_FORGET's items.</summary>
    /// <exception cref="FuseProtocolException">The count claims more items than the request holds.</exception>
    public ReadOnlySpan<FuseForgetOne> ReadBatchForget()
    {
        var batch = Read<FuseBatchForgetIn>();
        var items = Arguments[Unsafe.SizeOf<FuseBatchForgetIn>()..];
        int itemSize = Unsafe.SizeOf<FuseForgetOne>();
        if (batch.Count > (uint)(items.Length / itemSize))
        {
            throw new FuseProtocolException($"BATCH_FORGET claims {batch.Count} items but holds room for {items.Length / itemSize}.");
        }

        return MemoryMarshal.Cast<byte, FuseForgetOne>(items[..((int)batch.Count * itemSize)]);
    }

    private T ReadPrefix<T>(int minimumSize)
        where T : unmanaged
    {
        if (Arguments.Length < minimumSize)
        {
            throw Short(typeof(T).Name, minimumSize);
        }

        T value = default;
        var target = MemoryMarshal.AsBytes(new Span<T>(ref value));
        var source = Arguments.Length < target.Length ? Arguments : Arguments[..target.Length];
        source.CopyTo(target);
        return value;
    }

    private static ReadOnlySpan<byte> ReadName(ReadOnlySpan<byte> data, string what)
    {
        int end = data.IndexOf((byte)0);
        if (end < 0)
        {
            throw new FuseProtocolException($"A FUSE {what} is not NUL-terminated.");
        }

        if (end == 0 || end > FuseProtocol.MaxNameLength)
        {
            throw new FuseProtocolException($"A FUSE {what} of {end} bytes is empty or longer than {FuseProtocol.MaxNameLength}.");
        }

        return data[..end];
    }

    private FuseProtocolException Short(string structure, int size)
        => new($"{Opcode} arguments of {Arguments.Length} bytes are shorter than {structure} ({size} bytes).");
}

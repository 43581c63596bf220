using System.Buffers.Binary;
using System.Text;

namespace Accelerator.Block.Nbd.Protocol;

/// <summary>
/// The data of <c>NBD_OPT_INFO</c> and <c>NBD_OPT_GO</c>: a 32-bit name length, the export name, a 16-bit count of
/// information requests, then that many 16-bit <see cref="NbdInfoType"/> values.
/// </summary>
/// <param name="ExportName">The export asked for; empty names the default export.</param>
/// <param name="Requests">The information asked for, in order (unknown types are kept; the server ignores them).</param>
public sealed record NbdInfoRequest(string ExportName, IReadOnlyList<NbdInfoType> Requests)
{
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>Whether the client asked for <paramref name="type"/>.</summary>
    public bool Asks(NbdInfoType type) => Requests.Contains(type);

    /// <summary>Parses the whole option data (its length comes from the option header).</summary>
    /// <exception cref="NbdProtocolException">
    /// A length does not fit the data ("MUST be no larger than the option data length - 6"), the name is longer than
    /// 4096 bytes or not UTF-8, or bytes are left over.
    /// </exception>
    public static NbdInfoRequest Parse(ReadOnlySpan<byte> data)
    {
        if (data.Length < 6)
        {
            throw new NbdProtocolException($"INFO/GO data of {data.Length} bytes is shorter than its fixed 6 bytes.");
        }

        uint nameLength = BinaryPrimitives.ReadUInt32BigEndian(data);
        if (nameLength > (uint)(data.Length - 6))
        {
            throw new NbdProtocolException($"The export name length {nameLength} exceeds the option data.");
        }

        if (nameLength > NbdLimits.MaxString)
        {
            throw new NbdProtocolException($"The export name of {nameLength} bytes is longer than {NbdLimits.MaxString}.");
        }

        string name = DecodeString(data.Slice(4, (int)nameLength));
        var rest = data[(4 + (int)nameLength)..];
        int count = BinaryPrimitives.ReadUInt16BigEndian(rest);
        rest = rest[2..];
        if (rest.Length != count * 2)
        {
            throw new NbdProtocolException($"{count} information requests need {count * 2} bytes; the option has {rest.Length}.");
        }

        var requests = new NbdInfoType[count];
        for (int i = 0; i < count; i++)
        {
            requests[i] = (NbdInfoType)BinaryPrimitives.ReadUInt16BigEndian(rest[(i * 2)..]);
        }

        return new NbdInfoRequest(name, requests);
    }

    /// <summary>The length of the data <see cref="Write"/> produces.</summary>
    public int Length => 4 + Encoding.UTF8.GetByteCount(ExportName) + 2 + (Requests.Count * 2);

    /// <summary>Writes the option data; returns <see cref="Length"/>.</summary>
    public int Write(Span<byte> destination)
    {
        int nameLength = Encoding.UTF8.GetBytes(ExportName, destination[4..]);
        BinaryPrimitives.WriteUInt32BigEndian(destination, (uint)nameLength);
        int at = 4 + nameLength;
        BinaryPrimitives.WriteUInt16BigEndian(destination[at..], (ushort)Requests.Count);
        at += 2;
        foreach (var request in Requests)
        {
            BinaryPrimitives.WriteUInt16BigEndian(destination[at..], (ushort)request);
            at += 2;
        }

        return at;
    }

    /// <summary>Decodes a protocol string: UTF-8, at most 4096 bytes, no NUL ("Conventions").</summary>
    /// <exception cref="NbdProtocolException">It is none of that.</exception>
    public static string DecodeString(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length > NbdLimits.MaxString || bytes.Contains((byte)0))
        {
            throw new NbdProtocolException("A string is longer than 4096 bytes or contains NUL.");
        }

        try
        {
            return StrictUtf8.GetString(bytes);
        }
        catch (DecoderFallbackException ex)
        {
            throw new NbdProtocolException("A string is not valid UTF-8.", ex);
        }
    }
}

/// <summary>Writers (and, for clients and tests, readers) of option reply data.</summary>
public static class NbdOptionReplyData
{
    /// <summary>The data of <c>NBD_INFO_EXPORT</c>: type, size, transmission flags (12 bytes).</summary>
    public const int InfoExportSize = 12;

    /// <summary>The data of <c>NBD_INFO_BLOCK_SIZE</c>: type, minimum, preferred, maximum payload (14 bytes).</summary>
    public const int InfoBlockSizeSize = 14;

    /// <summary>Writes <c>NBD_INFO_EXPORT</c>; returns <see cref="InfoExportSize"/>.</summary>
    public static int WriteInfoExport(Span<byte> destination, ulong size, NbdTransmissionFlags flags)
    {
        BinaryPrimitives.WriteUInt16BigEndian(destination, (ushort)NbdInfoType.Export);
        BinaryPrimitives.WriteUInt64BigEndian(destination[2..], size);
        BinaryPrimitives.WriteUInt16BigEndian(destination[10..], (ushort)flags);
        return InfoExportSize;
    }

    /// <summary>Writes <c>NBD_INFO_BLOCK_SIZE</c>; returns <see cref="InfoBlockSizeSize"/>.</summary>
    public static int WriteInfoBlockSize(Span<byte> destination, uint minimum, uint preferred, uint maximumPayload)
    {
        BinaryPrimitives.WriteUInt16BigEndian(destination, (ushort)NbdInfoType.BlockSize);
        BinaryPrimitives.WriteUInt32BigEndian(destination[2..], minimum);
        BinaryPrimitives.WriteUInt32BigEndian(destination[6..], preferred);
        BinaryPrimitives.WriteUInt32BigEndian(destination[10..], maximumPayload);
        return InfoBlockSizeSize;
    }

    /// <summary>Writes <c>NBD_INFO_NAME</c> or <c>NBD_INFO_DESCRIPTION</c>: the type, then the string; returns the length.</summary>
    public static int WriteInfoString(Span<byte> destination, NbdInfoType type, string value)
    {
        BinaryPrimitives.WriteUInt16BigEndian(destination, (ushort)type);
        return 2 + Encoding.UTF8.GetBytes(value, destination[2..]);
    }

    /// <summary>The length of an <c>NBD_REP_SERVER</c> for <paramref name="name"/> and <paramref name="description"/>.</summary>
    public static int ServerLength(string name, string? description)
        => 4 + Encoding.UTF8.GetByteCount(name) + (description is null ? 0 : Encoding.UTF8.GetByteCount(description));

    /// <summary>Writes <c>NBD_REP_SERVER</c>: 32-bit name length, name, then the optional description; returns the length.</summary>
    public static int WriteServer(Span<byte> destination, string name, string? description)
    {
        int nameLength = Encoding.UTF8.GetBytes(name, destination[4..]);
        BinaryPrimitives.WriteUInt32BigEndian(destination, (uint)nameLength);
        int length = 4 + nameLength;
        if (description is not null)
        {
            length += Encoding.UTF8.GetBytes(description, destination[length..]);
        }

        return length;
    }

    /// <summary>Reads an <c>NBD_REP_SERVER</c>'s data.</summary>
    /// <exception cref="NbdProtocolException">The name length does not fit.</exception>
    public static (string Name, string Description) ReadServer(ReadOnlySpan<byte> data)
    {
        if (data.Length < 4)
        {
            throw new NbdProtocolException("NBD_REP_SERVER data is shorter than 4 bytes.");
        }

        uint length = BinaryPrimitives.ReadUInt32BigEndian(data);
        if (length > (uint)(data.Length - 4))
        {
            throw new NbdProtocolException("NBD_REP_SERVER's name length exceeds its data.");
        }

        return (NbdInfoRequest.DecodeString(data.Slice(4, (int)length)), NbdInfoRequest.DecodeString(data[(4 + (int)length)..]));
    }
}

using System.Buffers.Binary;

namespace Accelerator.Block.Nbd.Protocol;

/// <summary>
/// A transmission request header (28 bytes, big-endian): magic, command flags, type, cookie, offset, length. A WRITE's
/// payload of <see cref="Length"/> bytes follows it on the wire.
/// </summary>
/// <param name="Flags">The command flags (unknown bits kept: the server answers them EINVAL).</param>
/// <param name="Command">The request type (unknown values kept: answered EINVAL).</param>
/// <param name="Cookie">The client's handle, echoed in the reply.</param>
/// <param name="Offset">The byte offset into the export.</param>
/// <param name="Length">The byte length.</param>
public readonly record struct NbdRequest(NbdCommandFlags Flags, NbdCommand Command, ulong Cookie, ulong Offset, uint Length)
{
    /// <summary>Reads a request header; false when <paramref name="source"/> is shorter than <see cref="NbdLimits.RequestSize"/>.</summary>
    /// <exception cref="NbdProtocolException">The magic is wrong (the stream is out of step: the connection must end).</exception>
    public static bool TryRead(ReadOnlySpan<byte> source, out NbdRequest request)
    {
        request = default;
        if (source.Length < NbdLimits.RequestSize)
        {
            return false;
        }

        uint magic = BinaryPrimitives.ReadUInt32BigEndian(source);
        if (magic != NbdMagic.Request)
        {
            throw new NbdProtocolException($"A request began with 0x{magic:x8}, not the request magic.");
        }

        request = new NbdRequest(
            (NbdCommandFlags)BinaryPrimitives.ReadUInt16BigEndian(source[4..]),
            (NbdCommand)BinaryPrimitives.ReadUInt16BigEndian(source[6..]),
            BinaryPrimitives.ReadUInt64BigEndian(source[8..]),
            BinaryPrimitives.ReadUInt64BigEndian(source[16..]),
            BinaryPrimitives.ReadUInt32BigEndian(source[24..]));
        return true;
    }

    /// <summary>Writes the header; returns <see cref="NbdLimits.RequestSize"/>.</summary>
    public int Write(Span<byte> destination)
    {
        BinaryPrimitives.WriteUInt32BigEndian(destination, NbdMagic.Request);
        BinaryPrimitives.WriteUInt16BigEndian(destination[4..], (ushort)Flags);
        BinaryPrimitives.WriteUInt16BigEndian(destination[6..], (ushort)Command);
        BinaryPrimitives.WriteUInt64BigEndian(destination[8..], Cookie);
        BinaryPrimitives.WriteUInt64BigEndian(destination[16..], Offset);
        BinaryPrimitives.WriteUInt32BigEndian(destination[24..], Length);
        return NbdLimits.RequestSize;
    }
}

/// <summary>A simple reply header (16 bytes): magic, error, cookie; a successful READ's data follows it.</summary>
/// <param name="Error">The error, <see cref="NbdError.None"/> on success.</param>
/// <param name="Cookie">The request's cookie.</param>
public readonly record struct NbdSimpleReply(NbdError Error, ulong Cookie)
{
    /// <summary>Writes the header; returns <see cref="NbdLimits.SimpleReplySize"/>.</summary>
    public int Write(Span<byte> destination)
    {
        BinaryPrimitives.WriteUInt32BigEndian(destination, NbdMagic.SimpleReply);
        BinaryPrimitives.WriteUInt32BigEndian(destination[4..], (uint)Error);
        BinaryPrimitives.WriteUInt64BigEndian(destination[8..], Cookie);
        return NbdLimits.SimpleReplySize;
    }

    /// <summary>Reads a header; false when <paramref name="source"/> is short.</summary>
    /// <exception cref="NbdProtocolException">The magic is wrong.</exception>
    public static bool TryRead(ReadOnlySpan<byte> source, out NbdSimpleReply reply)
    {
        reply = default;
        if (source.Length < NbdLimits.SimpleReplySize)
        {
            return false;
        }

        uint magic = BinaryPrimitives.ReadUInt32BigEndian(source);
        if (magic != NbdMagic.SimpleReply)
        {
            throw new NbdProtocolException($"A reply began with 0x{magic:x8}, not the simple reply magic.");
        }

        reply = new NbdSimpleReply((NbdError)BinaryPrimitives.ReadUInt32BigEndian(source[4..]), BinaryPrimitives.ReadUInt64BigEndian(source[8..]));
        return true;
    }
}

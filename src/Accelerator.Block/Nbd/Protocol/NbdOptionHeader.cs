using System.Buffers.Binary;

namespace Accelerator.Block.Nbd.Protocol;

/// <summary>The header of a client option: IHAVEOPT, the option, the length of the data that follows.</summary>
/// <param name="Option">The option (unknown values are kept, and answered <c>NBD_REP_ERR_UNSUP</c>).</param>
/// <param name="Length">The length of the option data.</param>
public readonly record struct NbdOptionHeader(NbdOption Option, uint Length)
{
    /// <summary>Reads a header; false when <paramref name="source"/> is shorter than <see cref="NbdLimits.OptionHeaderSize"/>.</summary>
    /// <exception cref="NbdProtocolException">The magic is not IHAVEOPT.</exception>
    public static bool TryRead(ReadOnlySpan<byte> source, out NbdOptionHeader header)
    {
        header = default;
        if (source.Length < NbdLimits.OptionHeaderSize)
        {
            return false;
        }

        ulong magic = BinaryPrimitives.ReadUInt64BigEndian(source);
        if (magic != NbdMagic.Option)
        {
            throw new NbdProtocolException($"An option began with 0x{magic:x16}, not IHAVEOPT.");
        }

        header = new NbdOptionHeader((NbdOption)BinaryPrimitives.ReadUInt32BigEndian(source[8..]), BinaryPrimitives.ReadUInt32BigEndian(source[12..]));
        return true;
    }

    /// <summary>Writes the header; returns <see cref="NbdLimits.OptionHeaderSize"/>.</summary>
    public int Write(Span<byte> destination)
    {
        BinaryPrimitives.WriteUInt64BigEndian(destination, NbdMagic.Option);
        BinaryPrimitives.WriteUInt32BigEndian(destination[8..], (uint)Option);
        BinaryPrimitives.WriteUInt32BigEndian(destination[12..], Length);
        return NbdLimits.OptionHeaderSize;
    }
}

/// <summary>The header of an option reply: magic, the option answered, the reply type, the length of the data.</summary>
/// <param name="Option">The option answered.</param>
/// <param name="Type">The reply type.</param>
/// <param name="Length">The length of the reply data.</param>
public readonly record struct NbdOptionReplyHeader(NbdOption Option, NbdOptionReplyType Type, uint Length)
{
    /// <summary>Whether <see cref="Type"/> is an error (bit 31).</summary>
    public bool IsError => ((uint)Type & 0x8000_0000) != 0;

    /// <summary>Writes the header; returns <see cref="NbdLimits.OptionReplyHeaderSize"/>.</summary>
    public int Write(Span<byte> destination)
    {
        BinaryPrimitives.WriteUInt64BigEndian(destination, NbdMagic.OptionReply);
        BinaryPrimitives.WriteUInt32BigEndian(destination[8..], (uint)Option);
        BinaryPrimitives.WriteUInt32BigEndian(destination[12..], (uint)Type);
        BinaryPrimitives.WriteUInt32BigEndian(destination[16..], Length);
        return NbdLimits.OptionReplyHeaderSize;
    }

    /// <summary>Reads a header; false when <paramref name="source"/> is short.</summary>
    /// <exception cref="NbdProtocolException">The magic is wrong.</exception>
    public static bool TryRead(ReadOnlySpan<byte> source, out NbdOptionReplyHeader header)
    {
        header = default;
        if (source.Length < NbdLimits.OptionReplyHeaderSize)
        {
            return false;
        }

        if (BinaryPrimitives.ReadUInt64BigEndian(source) != NbdMagic.OptionReply)
        {
            throw new NbdProtocolException("An option reply has the wrong magic.");
        }

        header = new NbdOptionReplyHeader(
            (NbdOption)BinaryPrimitives.ReadUInt32BigEndian(source[8..]),
            (NbdOptionReplyType)BinaryPrimitives.ReadUInt32BigEndian(source[12..]),
            BinaryPrimitives.ReadUInt32BigEndian(source[16..]));
        return true;
    }
}

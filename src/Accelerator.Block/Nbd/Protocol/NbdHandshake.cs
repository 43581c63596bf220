using System.Buffers.Binary;

namespace Accelerator.Block.Nbd.Protocol;

/// <summary>The first messages of newstyle negotiation: the server greeting and the client flags (all big-endian).</summary>
public static class NbdHandshake
{
    /// <summary>Writes the greeting: NBDMAGIC, IHAVEOPT, handshake flags; returns <see cref="NbdLimits.GreetingSize"/>.</summary>
    public static int WriteGreeting(Span<byte> destination, NbdHandshakeFlags flags)
    {
        BinaryPrimitives.WriteUInt64BigEndian(destination, NbdMagic.Init);
        BinaryPrimitives.WriteUInt64BigEndian(destination[8..], NbdMagic.Option);
        BinaryPrimitives.WriteUInt16BigEndian(destination[16..], (ushort)flags);
        return NbdLimits.GreetingSize;
    }

    /// <summary>Reads a greeting; false when <paramref name="source"/> is short.</summary>
    /// <exception cref="NbdProtocolException">The magics are wrong.</exception>
    public static bool TryReadGreeting(ReadOnlySpan<byte> source, out NbdHandshakeFlags flags)
    {
        flags = default;
        if (source.Length < NbdLimits.GreetingSize)
        {
            return false;
        }

        if (BinaryPrimitives.ReadUInt64BigEndian(source) != NbdMagic.Init || BinaryPrimitives.ReadUInt64BigEndian(source[8..]) != NbdMagic.Option)
        {
            throw new NbdProtocolException("The greeting is not a newstyle NBD greeting.");
        }

        flags = (NbdHandshakeFlags)BinaryPrimitives.ReadUInt16BigEndian(source[16..]);
        return true;
    }

    /// <summary>
    /// Checks the client flags against what the server advertised: "the server MUST drop the TCP connection if the
    /// client sets an unknown flag, or a flag that does not match something advertised by the server".
    /// </summary>
    /// <exception cref="NbdProtocolException">The client set such a flag.</exception>
    public static NbdClientFlags ValidateClientFlags(uint value, NbdHandshakeFlags advertised)
    {
        uint allowed = (uint)NbdClientFlags.FixedNewstyle;
        if ((advertised & NbdHandshakeFlags.NoZeroes) != 0)
        {
            allowed |= (uint)NbdClientFlags.NoZeroes;
        }

        if ((value & ~allowed) != 0)
        {
            throw new NbdProtocolException($"The client sent unknown or unadvertised flags 0x{value:x8}.");
        }

        return (NbdClientFlags)value;
    }

    /// <summary>
    /// Writes the reply to <c>NBD_OPT_EXPORT_NAME</c>: size, transmission flags and, unless <paramref name="noZeroes"/>,
    /// 124 zero bytes; returns the length written.
    /// </summary>
    public static int WriteExportNameReply(Span<byte> destination, ulong size, NbdTransmissionFlags flags, bool noZeroes)
    {
        BinaryPrimitives.WriteUInt64BigEndian(destination, size);
        BinaryPrimitives.WriteUInt16BigEndian(destination[8..], (ushort)flags);
        if (noZeroes)
        {
            return NbdLimits.ExportNameReplySize;
        }

        destination.Slice(NbdLimits.ExportNameReplySize, NbdLimits.ExportNamePadding).Clear();
        return NbdLimits.ExportNameReplySize + NbdLimits.ExportNamePadding;
    }
}

namespace Accelerator.Block.Nbd.Protocol;

/// <summary>
/// What the spec says a server answers to a request before touching the export ("Request types", "Error values"):
/// unknown commands and flags are EINVAL, writes to a read-only export EPERM, reads and trims past the end EINVAL,
/// writes past the end ENOSPC, payloads over the maximum EINVAL.
/// </summary>
public static class NbdRequestRules
{
    /// <summary>The error a request gets without being served, or <see cref="NbdError.None"/> when it may be served.</summary>
    /// <param name="request">The request header.</param>
    /// <param name="exportSize">The export's size in bytes.</param>
    /// <param name="flags">The transmission flags the export was opened with.</param>
    /// <remarks>
    /// A zero length is answered EINVAL: the spec leaves it unspecified ("the client SHOULD NOT request a read length of
    /// 0") and only asks that the server not disconnect. <see cref="NbdCommand.Disconnect"/> is always valid.
    /// </remarks>
    public static NbdError Check(in NbdRequest request, ulong exportSize, NbdTransmissionFlags flags)
    {
        var allowedFlags = (flags & NbdTransmissionFlags.SendFua) != 0 ? NbdCommandFlags.Fua : NbdCommandFlags.None;
        bool readOnly = (flags & NbdTransmissionFlags.ReadOnly) != 0;
        switch (request.Command)
        {
            case NbdCommand.Disconnect:
                return NbdError.None;
            case NbdCommand.Read:
            case NbdCommand.Write:
                break;
            case NbdCommand.Flush when (flags & NbdTransmissionFlags.SendFlush) != 0:
                if ((request.Flags & ~allowedFlags) != 0 || request.Offset != 0 || request.Length != 0)
                {
                    // "For a flush request, length and offset are reserved, and MUST be set to all-zero."
                    return NbdError.InvalidArgument;
                }

                return NbdError.None;
            case NbdCommand.Trim when (flags & NbdTransmissionFlags.SendTrim) != 0:
                break;
            case NbdCommand.WriteZeroes when (flags & NbdTransmissionFlags.SendWriteZeroes) != 0:
                allowedFlags |= NbdCommandFlags.NoHole;
                break;
            case NbdCommand.Trim or NbdCommand.WriteZeroes when readOnly:
                // A read-only export advertises neither; a write-type request still gets the read-only answer.
                return (request.Flags & ~allowedFlags & ~NbdCommandFlags.NoHole) != 0 ? NbdError.InvalidArgument : NbdError.PermissionDenied;
            default:
                // "The server SHOULD return NBD_EINVAL if it receives an unknown command."
                return NbdError.InvalidArgument;
        }

        if ((request.Flags & ~allowedFlags) != 0)
        {
            // "...if it receives an unknown command flag [or] a flag not explicitly documented as applicable."
            return NbdError.InvalidArgument;
        }

        bool writes = request.Command is NbdCommand.Write or NbdCommand.Trim or NbdCommand.WriteZeroes;
        if (writes && readOnly)
        {
            return NbdError.PermissionDenied;
        }

        if (request.Length == 0)
        {
            return NbdError.InvalidArgument;
        }

        if (request.Command is NbdCommand.Read or NbdCommand.Write && request.Length > NbdLimits.MaxPayload)
        {
            return NbdError.InvalidArgument;
        }

        // offset + length may wrap a 64-bit integer: compare without adding.
        if (request.Offset > exportSize || request.Length > exportSize - request.Offset)
        {
            return request.Command is NbdCommand.Write or NbdCommand.WriteZeroes ? NbdError.NoSpace : NbdError.InvalidArgument;
        }

        return NbdError.None;
    }
}

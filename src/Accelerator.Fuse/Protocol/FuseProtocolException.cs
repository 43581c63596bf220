namespace Accelerator.Fuse.Protocol;

/// <summary>
/// A request from <c>/dev/fuse</c> that does not follow the protocol: a length that disagrees with the bytes read, a
/// body shorter than its structure, a name without its terminating NUL. The session answers it with an error reply
/// (when the header is readable) and goes on.
/// </summary>
public sealed class FuseProtocolException : IOException
{
    /// <summary>Creates the exception.</summary>
    public FuseProtocolException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with an inner exception.</summary>
    public FuseProtocolException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>Creates the exception with a default message.</summary>
    public FuseProtocolException()
        : base("Malformed FUSE request.")
    {
    }
}

namespace Accelerator.Block.Nbd.Protocol;

/// <summary>A message broke the NBD protocol (bad magic, a length that does not fit, a string that is not UTF-8).</summary>
public sealed class NbdProtocolException : IOException
{
    /// <summary>Creates the exception.</summary>
    public NbdProtocolException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with the error that caused it.</summary>
    public NbdProtocolException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}

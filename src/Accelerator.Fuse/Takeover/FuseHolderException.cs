namespace Accelerator.Fuse.Takeover;

/// <summary>The FUSE descriptor holder refused a request or broke the protocol; the message says why.</summary>
public class FuseHolderException : IOException
{
    /// <summary>Creates the exception.</summary>
    public FuseHolderException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with its cause.</summary>
    public FuseHolderException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}

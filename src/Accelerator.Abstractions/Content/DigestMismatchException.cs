namespace Accelerator;

/// <summary>Content did not hash to the digest (or did not have the size) it was fetched by.</summary>
public sealed class DigestMismatchException : IOException
{
    /// <summary>Creates the exception.</summary>
    public DigestMismatchException(Digest expected, string actual, string? source = null)
        : base($"Digest mismatch{(source is null ? "" : " from " + source)}: expected {expected}, got {actual}.")
    {
        Expected = expected;
        Actual = actual;
    }

    /// <summary>The digest that was asked for.</summary>
    public Digest Expected { get; }

    /// <summary>What the content actually was: a digest, or a size description.</summary>
    public string Actual { get; }
}

/// <summary>A blob or manifest was not found at a source.</summary>
public sealed class BlobNotFoundException : IOException
{
    /// <summary>Creates the exception.</summary>
    public BlobNotFoundException(string what, string? source = null, Exception? inner = null)
        : base($"Not found{(source is null ? "" : " at " + source)}: {what}.", inner)
    {
    }
}

/// <summary>Content exceeded a configured bound (manifest size, uncompressed layer size, header length…).</summary>
public sealed class ContentTooLargeException : IOException
{
    /// <summary>Creates the exception.</summary>
    public ContentTooLargeException(string message) : base(message)
    {
    }
}

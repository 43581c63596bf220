namespace Accelerator;

/// <summary>
/// Describes content by media type, digest and size (OCI image specification, descriptor.md).
/// </summary>
/// <param name="MediaType">The media type of the referenced content.</param>
/// <param name="Digest">The digest of the referenced content.</param>
/// <param name="Size">The size of the referenced content in bytes.</param>
public sealed record Descriptor(string MediaType, Digest Digest, long Size)
{
    /// <summary>Optional annotations.</summary>
    public IReadOnlyDictionary<string, string>? Annotations { get; init; }

    /// <summary>The platform of the referenced manifest, in an image index.</summary>
    public Platform? Platform { get; init; }

    /// <summary>Optional URLs the content may be fetched from (foreign layers).</summary>
    public IReadOnlyList<string>? Urls { get; init; }

    /// <summary>The artifact type of the referenced manifest, if any.</summary>
    public string? ArtifactType { get; init; }

    /// <summary>Creates a descriptor for in-memory content, computing its sha256 digest.</summary>
    public static Descriptor FromContent(string mediaType, ReadOnlySpan<byte> content)
        => new(mediaType, Digest.Compute(content), content.Length);

    /// <summary>Whether the descriptor and another describe the same bytes (digest and size).</summary>
    public bool SameContent(Descriptor other) => Digest == other.Digest && Size == other.Size;
}

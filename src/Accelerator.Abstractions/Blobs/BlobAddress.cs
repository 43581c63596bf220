namespace Accelerator;

/// <summary>
/// Addresses a blob: its digest and size, and the repository it lives in (a registry keeps blobs per repository;
/// sources without repositories, such as an image layout or a local store, ignore it).
/// </summary>
/// <param name="Repository">The repository path, e.g. <c>library/nginx</c>; empty when not applicable.</param>
/// <param name="Digest">The blob digest.</param>
/// <param name="Size">The blob size in bytes, or -1 when unknown.</param>
public readonly record struct BlobAddress(string Repository, Digest Digest, long Size = -1)
{
    /// <summary>An address for a descriptor's blob in <paramref name="repository"/>.</summary>
    public static BlobAddress For(string repository, Descriptor descriptor) => new(repository, descriptor.Digest, descriptor.Size);

    /// <summary>Whether the size is known.</summary>
    public bool HasSize => Size >= 0;

    /// <inheritdoc />
    public override string ToString() => Repository.Length == 0 ? Digest.ToString() : $"{Repository}@{Digest}";
}

namespace Accelerator.Oci.Model;

/// <summary>
/// Where images live and can be read and written: a registry or an OCI image layout. Blobs are read through the
/// store's <see cref="IBlobSource"/>.
/// </summary>
public interface IImageStore
{
    /// <summary>The store's blob source.</summary>
    IBlobSource Blobs { get; }

    /// <summary>Resolves a tag or digest of <paramref name="image"/> to its manifest (or index), verified by digest.</summary>
    Task<ManifestDocument> GetManifestAsync(ImageReference image, CancellationToken cancellationToken = default);

    /// <summary>
    /// The descriptor (media type, digest, size) of the manifest or index <paramref name="image"/> names now, without
    /// necessarily reading it: a registry answers one HEAD request (no body, nothing to hash). The default reads the
    /// manifest. Throws <see cref="BlobNotFoundException"/> when the store does not have it.
    /// </summary>
    async Task<Descriptor> GetManifestDescriptorAsync(ImageReference image, CancellationToken cancellationToken = default)
        => (await GetManifestAsync(image, cancellationToken).ConfigureAwait(false)).Descriptor;

    /// <summary>Gets a manifest by digest from the repository of <paramref name="image"/>.</summary>
    Task<ManifestDocument> GetManifestAsync(ImageReference image, Digest digest, CancellationToken cancellationToken = default);

    /// <summary>Whether the store holds the blob.</summary>
    ValueTask<bool> BlobExistsAsync(ImageReference image, Descriptor blob, CancellationToken cancellationToken = default);

    /// <summary>Stores a blob from a stream; the content must hash to the descriptor's digest.</summary>
    Task PushBlobAsync(ImageReference image, Descriptor blob, Stream content, CancellationToken cancellationToken = default);

    /// <summary>Stores a manifest under its digest and, when <paramref name="tag"/> is given, tags it.</summary>
    Task PushManifestAsync(ImageReference image, ManifestDocument manifest, string? tag, CancellationToken cancellationToken = default);

    /// <summary>The tags of the repository (layout: of the layout).</summary>
    Task<IReadOnlyList<string>> ListTagsAsync(ImageReference image, CancellationToken cancellationToken = default);
}

using Accelerator.Oci.Model;

namespace Accelerator.Oci;

/// <summary>
/// Puts a layer in front of the blobs of every registry an <see cref="ImageStoreResolver"/> hands out — P2P peers
/// before the mirrors and the origin, for example. Manifests and writes are not affected.
/// </summary>
public interface IRegistryBlobSourceDecorator
{
    /// <summary>The blob source to read <paramref name="registry"/>'s blobs from, given the one it would use otherwise.</summary>
    IBlobSource Decorate(string registry, IBlobSource next);
}

/// <summary>An image store whose blobs are read from another source; everything else goes to the inner store.</summary>
internal sealed class BlobDecoratedImageStore(IImageStore inner, IBlobSource blobs) : IImageStore, IReferrersStore
{
    public IBlobSource Blobs => blobs;

    public Task<ManifestDocument> GetManifestAsync(ImageReference image, CancellationToken cancellationToken = default)
        => inner.GetManifestAsync(image, cancellationToken);

    public Task<ManifestDocument> GetManifestAsync(ImageReference image, Digest digest, CancellationToken cancellationToken = default)
        => inner.GetManifestAsync(image, digest, cancellationToken);

    public Task<Descriptor> GetManifestDescriptorAsync(ImageReference image, CancellationToken cancellationToken = default)
        => inner.GetManifestDescriptorAsync(image, cancellationToken);

    public ValueTask<bool> BlobExistsAsync(ImageReference image, Descriptor blob, CancellationToken cancellationToken = default)
        => inner.BlobExistsAsync(image, blob, cancellationToken);

    public Task PushBlobAsync(ImageReference image, Descriptor blob, Stream content, CancellationToken cancellationToken = default)
        => inner.PushBlobAsync(image, blob, content, cancellationToken);

    public Task PushManifestAsync(ImageReference image, ManifestDocument manifest, string? tag, CancellationToken cancellationToken = default)
        => inner.PushManifestAsync(image, manifest, tag, cancellationToken);

    public Task<IReadOnlyList<string>> ListTagsAsync(ImageReference image, CancellationToken cancellationToken = default)
        => inner.ListTagsAsync(image, cancellationToken);

    public Task<IReadOnlyList<Descriptor>?> GetReferrersAsync(ImageReference image, Digest subject, string? artifactType, CancellationToken cancellationToken = default)
        => inner is IReferrersStore referrers
            ? referrers.GetReferrersAsync(image, subject, artifactType, cancellationToken)
            : Task.FromResult<IReadOnlyList<Descriptor>?>(null);

    public async Task<bool> PushReferrerAsync(ImageReference image, ManifestDocument referrer, CancellationToken cancellationToken = default)
    {
        if (inner is IReferrersStore referrers)
        {
            return await referrers.PushReferrerAsync(image, referrer, cancellationToken).ConfigureAwait(false);
        }

        await inner.PushManifestAsync(image, referrer, null, cancellationToken).ConfigureAwait(false);
        return false;
    }
}

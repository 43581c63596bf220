using Accelerator.Oci.Model;

namespace Accelerator.Oci.Registry;

/// <summary>
/// One registry host as an <see cref="IImageStore"/>: manifests by tag or digest, blob pushes (skipped when present),
/// manifest pushes and tag lists, over a shared <see cref="RegistryClient"/>. Get it from <see cref="RegistryClient.GetStore"/>.
/// </summary>
public sealed class RegistryImageStore : IImageStore, IReferrersStore
{
    private readonly RegistryClient _client;

    internal RegistryImageStore(RegistryClient client, string registry)
    {
        _client = client;
        Registry = registry;
        BlobSource = new RegistryBlobSource(client, registry);
    }

    /// <summary>The registry host, <c>host[:port]</c>.</summary>
    public string Registry { get; }

    /// <summary>The client this store talks through.</summary>
    public RegistryClient Client => _client;

    /// <summary>The store's blobs, typed.</summary>
    public RegistryBlobSource BlobSource { get; }

    /// <inheritdoc />
    public IBlobSource Blobs => BlobSource;

    /// <inheritdoc />
    public Task<ManifestDocument> GetManifestAsync(ImageReference image, CancellationToken cancellationToken = default)
        => _client.GetManifestAsync(Registry, Check(image).Repository, image.Reference, cancellationToken);

    /// <inheritdoc />
    /// <remarks>One HEAD request (<see cref="RegistryClient.HeadManifestAsync"/>).</remarks>
    public async Task<Descriptor> GetManifestDescriptorAsync(ImageReference image, CancellationToken cancellationToken = default)
        => await _client.HeadManifestAsync(Registry, Check(image).Repository, image.Reference, cancellationToken).ConfigureAwait(false)
            ?? throw new BlobNotFoundException($"manifest {image.Repository}:{image.Reference}", Registry);

    /// <inheritdoc />
    public Task<ManifestDocument> GetManifestAsync(ImageReference image, Digest digest, CancellationToken cancellationToken = default)
        => _client.GetManifestAsync(Registry, Check(image).Repository, digest.ToString(), cancellationToken);

    /// <inheritdoc />
    public async ValueTask<bool> BlobExistsAsync(ImageReference image, Descriptor blob, CancellationToken cancellationToken = default)
        => await _client.HeadBlobAsync(Registry, Check(image).Repository, blob.Digest, cancellationToken).ConfigureAwait(false) is not null;

    /// <inheritdoc />
    public Task PushBlobAsync(ImageReference image, Descriptor blob, Stream content, CancellationToken cancellationToken = default)
        => _client.PushBlobAsync(Registry, Check(image).Repository, blob, content, cancellationToken);

    /// <inheritdoc />
    public Task PushManifestAsync(ImageReference image, ManifestDocument manifest, string? tag, CancellationToken cancellationToken = default)
        => _client.PutManifestAsync(Registry, Check(image).Repository, manifest, tag, cancellationToken);

    /// <inheritdoc />
    public Task<IReadOnlyList<string>> ListTagsAsync(ImageReference image, CancellationToken cancellationToken = default)
        => _client.ListTagsAsync(Registry, Check(image).Repository, null, cancellationToken);

    /// <inheritdoc />
    /// <remarks>One request per page (<see cref="RegistryClient.GetReferrersAsync"/>); null when the registry answers 404.</remarks>
    public Task<IReadOnlyList<Descriptor>?> GetReferrersAsync(ImageReference image, Digest subject, string? artifactType, CancellationToken cancellationToken = default)
        => _client.GetReferrersAsync(Registry, Check(image).Repository, subject, artifactType, cancellationToken);

    /// <inheritdoc />
    public Task<bool> PushReferrerAsync(ImageReference image, ManifestDocument referrer, CancellationToken cancellationToken = default)
        => _client.PutReferrerAsync(Registry, Check(image).Repository, referrer, cancellationToken);

    private ImageReference Check(ImageReference image)
    {
        ArgumentNullException.ThrowIfNull(image);
        if (image.Kind != ImageReferenceKind.Registry || !string.Equals(image.Registry, Registry, StringComparison.OrdinalIgnoreCase))
        {
            throw new ArgumentException($"{image} is not in registry {Registry}.", nameof(image));
        }

        return image;
    }
}

using Accelerator.Oci.Model;

namespace Accelerator.Oci.Layout;

public sealed partial class OciImageLayout
{
    /// <summary>Reads <c>index.json</c>.</summary>
    public Task<ImageIndex> GetIndexAsync(CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        return Task.FromResult(ReadIndex());
    }

    /// <summary>The tags of the layout, in <c>index.json</c> order, without duplicates.</summary>
    public async Task<IReadOnlyList<string>> ListTagsAsync(CancellationToken cancellationToken = default)
    {
        var index = await GetIndexAsync(cancellationToken).ConfigureAwait(false);
        return TagsOf(index);
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<string>> ListTagsAsync(ImageReference image, CancellationToken cancellationToken = default)
    {
        EnsureThisLayout(image);
        return ListTagsAsync(cancellationToken);
    }

    /// <summary>
    /// Finds the descriptor <paramref name="image"/> names: by digest when it pins one, else by tag, else the only
    /// image of the layout. Throws <see cref="BlobNotFoundException"/> (listing the available tags) when there is no
    /// such image, <see cref="InvalidOperationException"/> when the reference has no tag and the layout holds several
    /// images.
    /// </summary>
    public async Task<Descriptor> ResolveAsync(ImageReference image, CancellationToken cancellationToken = default)
    {
        EnsureThisLayout(image);
        if (image.Digest is { } digest)
        {
            return await ResolveDigestAsync(digest, cancellationToken).ConfigureAwait(false);
        }

        return await ResolveTagAsync(image.Tag, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Finds the manifest tagged <paramref name="tag"/> in <c>index.json</c>; with a null tag, the only manifest.
    /// Errors as <see cref="ResolveAsync(ImageReference, CancellationToken)"/>.
    /// </summary>
    public async Task<Descriptor> ResolveTagAsync(string? tag, CancellationToken cancellationToken = default)
    {
        var index = await GetIndexAsync(cancellationToken).ConfigureAwait(false);
        if (tag is null)
        {
            // Referrers (untagged, with an artifact type: see GetReferrersAsync) are not images of the layout.
            var images = index.Manifests.Where(m => TagOf(m) is not null || m.ArtifactType is null).ToList();
            return images.Count switch
            {
                1 => images[0],
                0 => throw new BlobNotFoundException("any image (the layout is empty)", DisplayName),
                _ => throw new InvalidOperationException(
                    $"{DisplayName} holds {images.Count} images; name one with oci:DIR:TAG or oci:DIR@DIGEST (available tags: {DescribeTags(index)})."),
            };
        }

        foreach (var manifest in index.Manifests)
        {
            if (TagOf(manifest) == tag)
            {
                return manifest;
            }
        }

        throw new BlobNotFoundException($"tag '{tag}' (available tags: {DescribeTags(index)})", DisplayName);
    }

    /// <inheritdoc />
    public async Task<ManifestDocument> GetManifestAsync(ImageReference image, CancellationToken cancellationToken = default)
    {
        var descriptor = await ResolveAsync(image, cancellationToken).ConfigureAwait(false);
        return await ReadManifestAsync(descriptor, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public Task<ManifestDocument> GetManifestAsync(ImageReference image, Digest digest, CancellationToken cancellationToken = default)
    {
        EnsureThisLayout(image);
        return GetManifestAsync(digest, cancellationToken);
    }

    /// <summary>Reads the manifest (or index) with <paramref name="digest"/>, verified.</summary>
    public async Task<ManifestDocument> GetManifestAsync(Digest digest, CancellationToken cancellationToken = default)
    {
        var descriptor = FindInIndex(ReadIndex(), digest);
        if (descriptor is not null)
        {
            return await ReadManifestAsync(descriptor, cancellationToken).ConfigureAwait(false);
        }

        var bytes = await ReadManifestBytesAsync(new BlobAddress(string.Empty, digest), cancellationToken).ConfigureAwait(false);
        return ManifestDocument.Parse(bytes, null, digest);
    }

    /// <inheritdoc />
    public ValueTask<bool> BlobExistsAsync(ImageReference image, Descriptor blob, CancellationToken cancellationToken = default)
    {
        EnsureThisLayout(image);
        return ((IBlobExistence)Blobs).ExistsAsync(new BlobAddress(string.Empty, blob.Digest, blob.Size), cancellationToken);
    }

    private async Task<Descriptor> ResolveDigestAsync(Digest digest, CancellationToken cancellationToken)
    {
        var listed = FindInIndex(ReadIndex(), digest);
        if (listed is not null)
        {
            return listed;
        }

        // Not in index.json, e.g. a platform manifest of a tagged index: read the blob to learn its media type.
        var document = await GetManifestAsync(digest, cancellationToken).ConfigureAwait(false);
        return document.Descriptor;
    }

    private async Task<ManifestDocument> ReadManifestAsync(Descriptor descriptor, CancellationToken cancellationToken)
    {
        var address = new BlobAddress(string.Empty, descriptor.Digest, descriptor.Size);
        var bytes = await ReadManifestBytesAsync(address, cancellationToken).ConfigureAwait(false);
        return ManifestDocument.Parse(bytes, descriptor.MediaType.Length == 0 ? null : descriptor.MediaType, descriptor.Digest);
    }

    private async Task<byte[]> ReadManifestBytesAsync(BlobAddress address, CancellationToken cancellationToken)
    {
        if (!address.HasSize)
        {
            long size = await Blobs.GetSizeAsync(address, cancellationToken).ConfigureAwait(false);
            if (size > ManifestDocument.MaxSize)
            {
                throw new ContentTooLargeException($"Manifest {address.Digest} in {DisplayName} is {size} bytes, over the {ManifestDocument.MaxSize}-byte limit.");
            }
        }

        return await Blobs.ReadAllBytesAsync(address, ManifestDocument.MaxSize, cancellationToken).ConfigureAwait(false);
    }

    private ImageIndex ReadIndex()
    {
        string path = Path.Combine(Root, IndexFileName);
        byte[] bytes;
        try
        {
            bytes = ReadBounded(path, MaxIndexSize, IndexFileName);
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new FileNotFoundException($"OCI image layout '{Root}' has no {IndexFileName}.", path, ex);
        }

        var index = OciJson.Deserialize<ImageIndex>(bytes, $"{IndexFileName} of {DisplayName}");
        if (index.Manifests is null || index.Manifests.Any(m => m is null))
        {
            throw new FormatException($"Invalid {IndexFileName} of {DisplayName}: missing or null manifests.");
        }

        return index;
    }

    private static Descriptor? FindInIndex(ImageIndex index, Digest digest)
        => index.Manifests.FirstOrDefault(m => m.Digest == digest);

    private static string? TagOf(Descriptor descriptor)
        => descriptor.Annotations is { } annotations && annotations.TryGetValue(RefNameAnnotation, out string? name) ? name : null;

    private static IReadOnlyList<string> TagsOf(ImageIndex index)
        => index.Manifests.Select(TagOf).OfType<string>().Distinct(StringComparer.Ordinal).ToList();

    private static string DescribeTags(ImageIndex index)
    {
        var tags = TagsOf(index);
        return tags.Count == 0 ? "none" : string.Join(", ", tags);
    }

    private void EnsureThisLayout(ImageReference image)
    {
        ArgumentNullException.ThrowIfNull(image);
        if (image.Kind == ImageReferenceKind.Layout && NormalizeRoot(image.LayoutPath!) != Root)
        {
            throw new ArgumentException($"Reference '{image}' names another layout than {DisplayName}.", nameof(image));
        }
    }
}

using Accelerator.Oci.Model;
using Accelerator.Oci.Referrers;
using Accelerator.Seekable.Gzip;

namespace Accelerator.Seekable.Index;

/// <summary>
/// Publishes a seekable index beside its image: the empty config, each layer's index blob and the prefetch list first
/// (skipped when present), then the artifact manifest by digest. When the store does not list referrers by itself (a
/// registry that answers the push without <c>OCI-Subject</c>), the subject's referrers tag is read, extended
/// (deduplicated by digest) and written back (<see cref="ImageReferrers.PushAsync"/>).
/// </summary>
public static class SeekableIndexPublisher
{
    /// <summary>
    /// Publishes the index of <paramref name="subject"/> (an image manifest of <paramref name="image"/>'s repository) made
    /// of <paramref name="layers"/> (each <see cref="SeekableLayerIndex.Layer"/> a layer of the subject) and the optional
    /// <paramref name="prefetchList"/>. Returns the artifact as published and how it is listed ("referrers API" or
    /// "referrers tag sha256-…").
    /// </summary>
    public static async Task<(SeekableIndexArtifact Artifact, string Listing)> PublishAsync(
        IImageStore store, ImageReference image, Descriptor subject, IReadOnlyList<GzipLayerIndex> layers, int spanSize,
        IReadOnlyList<string>? prefetchList = null, TimeProvider? time = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(image);
        ArgumentNullException.ThrowIfNull(subject);
        ArgumentNullException.ThrowIfNull(layers);
        if (layers.Count is 0 or > SeekableIndexArtifact.MaxLayers)
        {
            throw new ArgumentException($"An index holds 1 to {SeekableIndexArtifact.MaxLayers} layers, not {layers.Count}.", nameof(layers));
        }

        await PushBlobAsync(store, image, SeekableIndexArtifact.EmptyConfig, SeekableIndexArtifact.EmptyConfigContent, cancellationToken).ConfigureAwait(false);
        var blobs = new List<(Digest Layer, Descriptor Index)>(layers.Count);
        foreach (var layer in layers.DistinctBy(l => l.Layer.Digest))
        {
            byte[] bytes = layer.ToBytes();
            var blob = Descriptor.FromContent(GzipLayerIndex.MediaType, bytes);
            await PushBlobAsync(store, image, blob, bytes, cancellationToken).ConfigureAwait(false);
            blobs.Add((layer.Layer.Digest, blob));
        }

        Descriptor? prefetch = null;
        if (prefetchList is { Count: > 0 })
        {
            byte[] bytes = SeekableIndexArtifact.WritePrefetchList(prefetchList);
            prefetch = Descriptor.FromContent(SeekableIndexArtifact.PrefetchListMediaType, bytes);
            await PushBlobAsync(store, image, prefetch, bytes, cancellationToken).ConfigureAwait(false);
        }

        var manifest = SeekableIndexArtifact.Build(subject, blobs, prefetch, spanSize, (time ?? TimeProvider.System).GetUtcNow());
        string listing = await ImageReferrers.PushAsync(store, image, manifest, cancellationToken).ConfigureAwait(false);
        return (SeekableIndexArtifact.Parse(manifest, store.Blobs, image.Repository), listing);
    }

    private static async Task PushBlobAsync(IImageStore store, ImageReference image, Descriptor blob, ReadOnlyMemory<byte> content, CancellationToken cancellationToken)
    {
        if (await store.BlobExistsAsync(image, blob, cancellationToken).ConfigureAwait(false))
        {
            return;
        }

        using var stream = new MemoryStream(content.ToArray(), writable: false);
        await store.PushBlobAsync(image, blob, stream, cancellationToken).ConfigureAwait(false);
    }
}

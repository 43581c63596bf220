using System.Collections.Concurrent;
using Accelerator.Oci.Model;

namespace Accelerator.Snapshots.Tests.Support;

/// <summary>A real image store whose blob reads are counted per digest (how often each layer was fetched).</summary>
internal sealed class CountingImageStore(IImageStore inner) : IImageStore
{
    private readonly CountingBlobs _blobs = new(inner.Blobs);

    public IBlobSource Blobs => _blobs;

    public ConcurrentDictionary<Digest, int> Opened => _blobs.Opened;

    public int OpenCount(Digest digest) => _blobs.Opened.GetValueOrDefault(digest);

    private int _manifestRequests;

    public int ManifestRequests => _manifestRequests;

    private int _descriptorRequests;

    /// <summary>Requests for a manifest's descriptor only (a HEAD at a registry).</summary>
    public int DescriptorRequests => _descriptorRequests;

    public Task<Descriptor> GetManifestDescriptorAsync(ImageReference image, CancellationToken cancellationToken = default)
    {
        Interlocked.Increment(ref _descriptorRequests);
        return inner.GetManifestDescriptorAsync(image, cancellationToken);
    }

    public Task<ManifestDocument> GetManifestAsync(ImageReference image, CancellationToken cancellationToken = default)
    {
        Interlocked.Increment(ref _manifestRequests);
        return inner.GetManifestAsync(image, cancellationToken);
    }

    public Task<ManifestDocument> GetManifestAsync(ImageReference image, Digest digest, CancellationToken cancellationToken = default)
    {
        Interlocked.Increment(ref _manifestRequests);
        return inner.GetManifestAsync(image, digest, cancellationToken);
    }

    public ValueTask<bool> BlobExistsAsync(ImageReference image, Descriptor blob, CancellationToken cancellationToken = default) => inner.BlobExistsAsync(image, blob, cancellationToken);

    public Task PushBlobAsync(ImageReference image, Descriptor blob, Stream content, CancellationToken cancellationToken = default) => inner.PushBlobAsync(image, blob, content, cancellationToken);

    public Task PushManifestAsync(ImageReference image, ManifestDocument manifest, string? tag, CancellationToken cancellationToken = default) => inner.PushManifestAsync(image, manifest, tag, cancellationToken);

    public Task<IReadOnlyList<string>> ListTagsAsync(ImageReference image, CancellationToken cancellationToken = default) => inner.ListTagsAsync(image, cancellationToken);

    private sealed class CountingBlobs(IBlobSource inner) : IBlobSource
    {
        public ConcurrentDictionary<Digest, int> Opened { get; } = new();

        public ValueTask<long> GetSizeAsync(BlobAddress blob, CancellationToken cancellationToken = default) => inner.GetSizeAsync(blob, cancellationToken);

        public Task<Stream> OpenReadAsync(BlobAddress blob, CancellationToken cancellationToken = default)
        {
            Opened.AddOrUpdate(blob.Digest, 1, (_, n) => n + 1);
            return inner.OpenReadAsync(blob, cancellationToken);
        }

        public Task<Stream> OpenRangeAsync(BlobAddress blob, long offset, long length, CancellationToken cancellationToken = default) => inner.OpenRangeAsync(blob, offset, length, cancellationToken);
    }
}

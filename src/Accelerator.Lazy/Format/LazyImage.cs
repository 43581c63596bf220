using Accelerator.Chunks.Images;
using Accelerator.Oci.Model;
using Accelerator.Oci.Resolution;

namespace Accelerator.Lazy.Format;

/// <summary>
/// A lazy image as stored in a registry or image layout: an OCI image manifest whose first layer is the bootstrap and
/// whose other layers are the data blobs, with the source image's config (<see cref="LazyFormat.ImageFormat"/>).
/// <see cref="LoadAsync"/> fetches and checks the bootstrap; chunks are then read from
/// <see cref="AcceleratedImage.Store"/>'s blobs with ranged reads.
/// </summary>
public sealed class LazyImage : AcceleratedImage
{
    private LazyImage(IImageStore store, ResolvedImage image, LazyBootstrap bootstrap)
        : base(store, image)
    {
        Bootstrap = bootstrap;
    }

    /// <summary>The bootstrap: the file tree and chunk table.</summary>
    public LazyBootstrap Bootstrap { get; }

    /// <summary>The address of a data blob of the image, for ranged reads through <see cref="AcceleratedImage.Store"/>'s blob source.</summary>
    public BlobAddress GetBlobAddress(Digest blob)
    {
        foreach (LazyBlob known in Bootstrap.Blobs)
        {
            if (known.Digest == blob)
            {
                return new BlobAddress(Reference.Repository, blob, known.Size);
            }
        }

        throw new ArgumentException($"{blob} is not a data blob of {Reference}.", nameof(blob));
    }

    /// <summary>Whether <paramref name="manifest"/> is a lazy image: a bootstrap layer first, data blobs after it.</summary>
    public static bool IsLazyManifest(ImageManifest manifest) => LazyFormat.ImageFormat.IsManifest(manifest);

    /// <summary>
    /// Resolves <paramref name="image"/> in <paramref name="store"/>, fetches its bootstrap (verified by digest, at most
    /// <paramref name="maxBootstrapBytes"/> compressed or not), reads it, and checks that its blob table is exactly the
    /// manifest's data layers.
    /// </summary>
    /// <exception cref="InvalidDataException">The image is not a lazy image, or its bootstrap is invalid.</exception>
    public static async Task<LazyImage> LoadAsync(
        IImageStore store, ImageReference image, Platform? platform = null, int maxBootstrapBytes = LazyFormat.DefaultMaxBootstrapBytes, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(image);
        AcceleratedManifest found = await LazyFormat.ImageFormat.ReadIndexAsync(store, image, platform, maxBootstrapBytes, cancellationToken).ConfigureAwait(false);
        LazyBootstrap bootstrap = LazyBootstrap.Read(found.IndexBytes, maxBootstrapBytes);
        found.CheckDataBlobs(bootstrap.Blobs.Select(b => (b.Digest, b.Size)));
        return new LazyImage(store, found.Image, bootstrap);
    }
}

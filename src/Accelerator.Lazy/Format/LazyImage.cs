using Accelerator.Oci.Model;
using Accelerator.Oci.Resolution;

namespace Accelerator.Lazy.Format;

/// <summary>
/// A lazy image as stored in a registry or image layout: an OCI image manifest whose first layer is the bootstrap and
/// whose other layers are the data blobs, with the source image's config. <see cref="LoadAsync"/> fetches and checks
/// the bootstrap; chunks are then read from <see cref="Store"/>'s blobs with ranged reads.
/// </summary>
public sealed class LazyImage
{
    private LazyImage(IImageStore store, ResolvedImage image, LazyBootstrap bootstrap, Digest? sourceDigest)
    {
        Store = store;
        Image = image;
        Bootstrap = bootstrap;
        SourceDigest = sourceDigest;
    }

    /// <summary>The store the image lives in.</summary>
    public IImageStore Store { get; }

    /// <summary>The reference the image was loaded by.</summary>
    public ImageReference Reference => Image.Image;

    /// <summary>The resolved manifest and config.</summary>
    public ResolvedImage Image { get; }

    /// <summary>The bootstrap: the file tree and chunk table.</summary>
    public LazyBootstrap Bootstrap { get; }

    /// <summary>The digest of the source image manifest, from the <see cref="LazyFormat.SourceDigestAnnotation"/> annotation.</summary>
    public Digest? SourceDigest { get; }

    /// <summary>The address of a data blob of the image, for ranged reads through <see cref="Store"/>'s blob source.</summary>
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
    public static bool IsLazyManifest(ImageManifest manifest)
    {
        ArgumentNullException.ThrowIfNull(manifest);
        return manifest.Layers.Count >= 1
            && manifest.Layers[0].MediaType == LazyFormat.BootstrapMediaType
            && manifest.Layers.Skip(1).All(l => l.MediaType == LazyFormat.ChunksMediaType);
    }

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
        ResolvedImage resolved = await ResolveAsync(store, image, platform, cancellationToken).ConfigureAwait(false);
        ImageManifest manifest = resolved.ImageManifest;
        if (!IsLazyManifest(manifest))
        {
            throw new InvalidDataException($"{image} is not a lazy image: its first layer must be a {LazyFormat.BootstrapMediaType} and the others {LazyFormat.ChunksMediaType}.");
        }

        string? version = manifest.Annotations?.GetValueOrDefault(LazyFormat.VersionAnnotation);
        if (version is not null && version != LazyFormat.Version.ToString(System.Globalization.CultureInfo.InvariantCulture))
        {
            throw new InvalidDataException($"{image} is a lazy image of format version {version}; this reader understands version {LazyFormat.Version}.");
        }

        Descriptor layer = manifest.Layers[0];
        byte[] blob = await store.Blobs.ReadAllBytesAsync(BlobAddress.For(image.Repository, layer), maxBootstrapBytes, cancellationToken).ConfigureAwait(false);
        LazyBootstrap bootstrap = LazyBootstrap.Read(blob, maxBootstrapBytes);

        var layers = manifest.Layers.Skip(1).ToList();
        if (layers.Count != bootstrap.Blobs.Count
            || layers.Zip(bootstrap.Blobs).Any(pair => pair.First.Digest != pair.Second.Digest || pair.First.Size != pair.Second.Size))
        {
            throw new InvalidDataException($"{image}: the bootstrap's data blobs do not match the manifest's layers.");
        }

        Digest? source = manifest.Annotations?.GetValueOrDefault(LazyFormat.SourceDigestAnnotation) is { } text && Digest.TryParse(text, out Digest parsed) ? parsed : null;
        return new LazyImage(store, resolved, bootstrap, source);
    }

    // Like ImageResolver, without its check that the config lists one diff_id per layer: a lazy image keeps the source
    // config (entrypoint, environment) while its layers are the bootstrap and data blobs.
    internal static async Task<ResolvedImage> ResolveAsync(IImageStore store, ImageReference image, Platform? platform, CancellationToken cancellationToken)
    {
        ManifestDocument root = await store.GetManifestAsync(image, cancellationToken).ConfigureAwait(false);
        ManifestDocument document = root;
        if (root.Index is { } index)
        {
            platform ??= Platform.Current;
            Descriptor selected = index.SelectPlatform(platform)
                ?? throw new PlatformNotFoundException(image, platform, index.Manifests.Where(m => m.Platform is not null).Select(m => m.Platform!));
            document = await store.GetManifestAsync(image, selected.Digest, cancellationToken).ConfigureAwait(false);
            if (document.Manifest is null)
            {
                throw new InvalidDataException($"{image}: the index entry for {platform} is not an image manifest.");
            }
        }

        Descriptor config = document.Manifest!.Config;
        byte[] configBytes = await store.Blobs.ReadAllBytesAsync(BlobAddress.For(image.Repository, config), ImageResolver.MaxConfigSize, cancellationToken).ConfigureAwait(false);
        return new ResolvedImage(image, root, document, OciJson.Deserialize<ImageConfig>(configBytes, "image config"), configBytes);
    }
}

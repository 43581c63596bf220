using Accelerator.Oci.Model;

namespace Accelerator.Oci.Resolution;

/// <summary>Resolves an image reference to the manifest and config for one platform.</summary>
public static class ImageResolver
{
    /// <summary>The largest image config accepted, 8 MiB.</summary>
    public const int MaxConfigSize = 8 * 1024 * 1024;

    // Indexes may nest (an index entry pointing at another index); bound the depth so a cycle cannot loop forever.
    private const int MaxIndexDepth = 4;

    /// <summary>
    /// Fetches the manifest <paramref name="image"/> names; when it is an index, selects <paramref name="platform"/>
    /// (default: the current platform); then fetches and verifies the config. A platform given explicitly also applies
    /// to a single-platform image: one whose config names another platform is refused.
    /// </summary>
    public static async Task<ResolvedImage> ResolveAsync(IImageStore store, ImageReference image, Platform? platform = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(image);
        bool platformRequested = platform is not null;
        platform ??= Platform.Current;
        var root = await store.GetManifestAsync(image, cancellationToken).ConfigureAwait(false);
        var document = root;
        for (int depth = 0; document.Index is { } index; depth++)
        {
            if (depth == MaxIndexDepth)
            {
                throw new FormatException($"Image {image} nests indexes deeper than {MaxIndexDepth} levels.");
            }

            var selected = index.SelectPlatform(platform)
                ?? throw new PlatformNotFoundException(image, platform, index.Manifests.Where(m => m.Platform is not null).Select(m => m.Platform!));
            document = await store.GetManifestAsync(image, selected.Digest, cancellationToken).ConfigureAwait(false);
        }

        var manifest = document.Manifest!;
        if (manifest.Config.MediaType is not (MediaTypes.OciConfig or MediaTypes.DockerConfig))
        {
            throw new NotSupportedException(
                $"{image} is not a container image: its config has media type '{manifest.Config.MediaType}'.");
        }

        if (manifest.Config.Size > MaxConfigSize)
        {
            throw new ContentTooLargeException($"Image config of {image} is {manifest.Config.Size} bytes, over the {MaxConfigSize}-byte limit.");
        }

        byte[] configBytes = await store.Blobs.ReadAllBytesAsync(BlobAddress.For(image.Repository, manifest.Config), MaxConfigSize, cancellationToken).ConfigureAwait(false);
        var config = OciJson.Deserialize<ImageConfig>(configBytes, "image config");
        // Accelerated variants (lazy, block) keep the source config but store other blobs as layers; the diff IDs
        // describe tar layers only.
        bool tarLayers = manifest.Layers.All(l => MediaTypes.IsLayer(l.MediaType));
        if (tarLayers && config.Rootfs is { } rootfs && rootfs.DiffIds.Count != manifest.Layers.Count)
        {
            throw new FormatException(
                $"Image {image} is inconsistent: its manifest has {manifest.Layers.Count} layers but its config lists {rootfs.DiffIds.Count} diff IDs.");
        }

        if (platformRequested && !root.IsIndex && config is { Os: { } os, Architecture: { } architecture })
        {
            var built = new Platform(os, architecture, config.Variant);
            if (!platform.Matches(built))
            {
                throw new PlatformNotFoundException(image, platform, [built]);
            }
        }

        return new ResolvedImage(image, root, document, config, configBytes);
    }
}

/// <summary>An index has no manifest for the wanted platform.</summary>
public sealed class PlatformNotFoundException : Exception
{
    /// <summary>Creates the exception.</summary>
    public PlatformNotFoundException(ImageReference image, Platform platform, IEnumerable<Platform> available)
        : base($"{image} has no image for platform {platform}; it has: {string.Join(", ", available.Select(p => p.ToString()).DefaultIfEmpty("none"))}.")
    {
    }
}

using Accelerator.Oci.IO;
using Accelerator.Block.Conversion;
using Accelerator.Block.Format;
using Accelerator.Block.Layers;
using Accelerator.Lazy.Format;
using Accelerator.Lazy.Mounting;
using Accelerator.Lazy.Statistics;
using Accelerator.Oci;
using Accelerator.Oci.Model;
using Accelerator.Oci.Resolution;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Accelerator.Block.Mounting;

/// <summary>
/// Opens block images (<c>accel convert --format block</c>): the reference itself when it is one, else
/// <c>TAG-accel-block</c> beside it, from a registry or an image layout. The disk is the image's
/// <see cref="BlockLayerStack"/>: blocks fetched on demand through the store's blob source (mirrors, P2P) into the
/// local block cache, verified, with the image's prefetch trace replayed in the background.
/// </summary>
public sealed class BlockImageOpener : IBlockImageOpener
{
    private readonly ImageStoreResolver _stores;
    private readonly BlockMountOptions _options;
    private readonly ILoggerFactory _loggerFactory;
    private readonly TimeProvider _time;

    /// <summary>Creates an opener reading images through <paramref name="stores"/>, caching blocks where <paramref name="options"/> say.</summary>
    public BlockImageOpener(ImageStoreResolver stores, BlockMountOptions options, ILoggerFactory? loggerFactory = null, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(stores);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _stores = stores;
        _options = options;
        _loggerFactory = loggerFactory ?? NullLoggerFactory.Instance;
        _time = timeProvider ?? TimeProvider.System;
    }

    /// <inheritdoc />
    public async ValueTask<(bool CanOpen, string? Reason)> CanOpenAsync(ImageReference image, Platform? platform, CancellationToken cancellationToken = default)
    {
        var (variant, reason) = await FindBlockVariantAsync(image, platform, cancellationToken).ConfigureAwait(false);
        return variant is null ? (false, reason) : (true, null);
    }

    /// <inheritdoc />
    public async Task<BlockImageDisk> OpenAsync(ImageReference image, Platform? platform, MountStatistics statistics, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(statistics);
        var (variant, reason) = await FindBlockVariantAsync(image, platform, cancellationToken).ConfigureAwait(false);
        if (variant is null)
        {
            throw new InvalidOperationException($"{image} has no block image: {reason}");
        }

        IImageStore store = _stores.GetStore(variant);
        BlockImage blockImage = await BlockImage.LoadAsync(store, variant, platform, cancellationToken).ConfigureAwait(false);
        var source = new CountingBlobSource(store.Blobs, ImageStoreResolver.SourceName(variant), statistics);
        var stack = blockImage.OpenStack(
            new BlockStackOptions { CacheDirectory = CacheDirectory(), MaxCacheBytes = _options.CacheMaxBytes },
            source, _loggerFactory.CreateLogger<BlockLayerStack>(), _time);
        return new BlockImageDisk(stack, blockImage.Image.Manifest.Digest);
    }

    // A variant found beside the tag must be the conversion of the manifest the tag names now: the kernel will parse its
    // file system in place of the image the caller asked for, so a stale conversion, or one pushed beside another image's
    // tag, is refused (its blocks are verified against its index either way; this binds the index to the request).
    private async Task<(ImageReference? Variant, string? Reason)> FindBlockVariantAsync(ImageReference image, Platform? platform, CancellationToken cancellationToken)
    {
        var (variant, reason) = await AcceleratedVariant.FindAsync(
            _stores, image, platform, BlockFormat.TagSuffix, BlockConverter.DefaultTarget, BlockImage.IsBlockManifest, "block image", cancellationToken).ConfigureAwait(false);
        if (variant is null || variant == image)
        {
            return (variant, reason);
        }

        try
        {
            ResolvedImage requested;
            try
            {
                requested = await ImageResolver.ResolveAsync(_stores.GetStore(image), image, platform, cancellationToken).ConfigureAwait(false);
            }
            catch (BlobNotFoundException)
            {
                // The tag names nothing there (a store holding only the converted image): the variant is all the name
                // can mean, and no other image is being replaced.
                return (variant, null);
            }

            var converted = await LazyImage.ResolveAsync(_stores.GetStore(variant), variant, platform, cancellationToken).ConfigureAwait(false);
            string? source = converted.ImageManifest.Annotations?.GetValueOrDefault(BlockFormat.SourceDigestAnnotation);
            return source == requested.Manifest.Digest.ToString()
                ? (variant, null)
                : (null, $"{variant} was converted from {source ?? "an image it does not name"}, not from {image} ({requested.Manifest.Digest}); convert the image again");
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw;
        }
        catch (Exception ex) when (ex is IOException or InvalidDataException or FormatException or HttpRequestException or NotSupportedException or UnauthorizedAccessException)
        {
            return (null, $"cannot check that {variant} is the conversion of {image}: {ex.Message}");
        }
    }

    private string CacheDirectory()
        => _options.CacheDirectory ?? PrivateDirectory.FirstWritable("/var/cache/accel/blocks", PrivateDirectory.InTemp("accel-blocks"));
}

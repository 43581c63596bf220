using Accelerator.Block.Conversion;
using Accelerator.Block.Format;
using Accelerator.Block.Layers;
using Accelerator.Lazy.Statistics;
using Accelerator.Oci;
using Accelerator.Oci.Model;
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

    private async Task<(ImageReference? Variant, string? Reason)> FindBlockVariantAsync(ImageReference image, Platform? platform, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(image);
        IImageStore store;
        try
        {
            store = _stores.GetStore(image);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or InvalidDataException)
        {
            return (null, $"cannot open {image}: {ex.Message}");
        }

        string? first = await ProblemAsync(store, image, platform, cancellationToken).ConfigureAwait(false);
        if (first is null)
        {
            return (image, null);
        }

        if (image.Tag is null || image.Digest is not null || image.Tag.EndsWith(BlockFormat.TagSuffix, StringComparison.Ordinal))
        {
            return (null, first);
        }

        ImageReference variant = BlockConverter.DefaultTarget(image);
        string? second = await ProblemAsync(store, variant, platform, cancellationToken).ConfigureAwait(false);
        return second is null ? (variant, null) : (null, $"{first}; {second}");
    }

    // Null when image is a block image; else what it is instead.
    private static async Task<string?> ProblemAsync(IImageStore store, ImageReference image, Platform? platform, CancellationToken cancellationToken)
    {
        try
        {
            ManifestDocument document = await store.GetManifestAsync(image, cancellationToken).ConfigureAwait(false);
            if (document.Index is { } index)
            {
                platform ??= Platform.Current;
                Descriptor? selected = index.SelectPlatform(platform);
                if (selected is null)
                {
                    return $"{image} has no manifest for {platform}";
                }

                document = await store.GetManifestAsync(image, selected.Digest, cancellationToken).ConfigureAwait(false);
            }

            return document.Manifest is { } manifest && BlockImage.IsBlockManifest(manifest) ? null : $"{image} is not a block image";
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw;
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            return $"{image} is not available ({ex.Message})";
        }
    }

    private string CacheDirectory()
        => _options.CacheDirectory ?? FirstWritable("/var/cache/accel/blocks", Path.Combine(Path.GetTempPath(), "accel-blocks"));

    private static string FirstWritable(string preferred, string fallback)
    {
        try
        {
            return Directory.CreateDirectory(preferred).FullName;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return Directory.CreateDirectory(fallback).FullName;
        }
    }
}

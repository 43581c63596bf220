using Accelerator.Block.Conversion;
using Accelerator.Block.Format;
using Accelerator.Block.Layers;
using Accelerator.Linux;
using Accelerator.Chunks.Images;
using Accelerator.Chunks.Statistics;
using Accelerator.Oci;
using Accelerator.Oci.Model;
using Accelerator.Oci.Resolution;
using Accelerator.Oci.Validation;
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
    private readonly BlockMountOptions _options;
    private readonly AcceleratedImageResolver _variants;
    private readonly ILogger<BlockLayerStack> _stackLogger;
    private readonly TimeProvider _time;

    /// <summary>Creates an opener reading images through <paramref name="stores"/>, caching blocks where <paramref name="options"/> say.</summary>
    public BlockImageOpener(ImageStoreResolver stores, BlockMountOptions options, ILoggerFactory? loggerFactory = null, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        new BlockMountOptionsValidator().ThrowIfInvalid(options, "block mount");
        _options = options;
        _stackLogger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger<BlockLayerStack>();
        _variants = new AcceleratedImageResolver(stores, BlockFormat.ImageFormat);
        _time = timeProvider ?? TimeProvider.System;
    }

    /// <inheritdoc />
    public async ValueTask<(bool CanOpen, string? Reason)> CanOpenAsync(ImageReference image, Platform? platform, CancellationToken cancellationToken = default)
    {
        var (variant, reason) = await _variants.FindVariantAsync(image, platform, cancellationToken).ConfigureAwait(false);
        return variant is null ? (false, reason) : (true, null);
    }

    /// <inheritdoc />
    public async Task<BlockImageDisk> OpenAsync(ImageReference image, Platform? platform, MountStatistics statistics, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(statistics);
        var (variant, reason) = await _variants.FindVariantAsync(image, platform, cancellationToken).ConfigureAwait(false);
        if (variant is null)
        {
            throw new InvalidOperationException($"{image} has no block image: {reason}");
        }

        IImageStore store = _variants.Stores.GetStore(variant);
        BlockImage blockImage = await BlockImage.LoadAsync(store, variant, platform, cancellationToken).ConfigureAwait(false);
        var source = new CountingBlobSource(store.Blobs, ImageStoreResolver.SourceName(variant), statistics);
        var stack = blockImage.OpenStack(
            new BlockStackOptions { CacheDirectory = CacheDirectory(), MaxCacheBytes = _options.MaxCacheBytes, RequestTimeout = RequestTimeout() },
            source, _stackLogger, _time);
        return new BlockImageDisk(stack, blockImage.Image.Manifest.Digest);
    }

    // A ranged request ends a little before the read that waits for it (the fetch bound, which the FUSE session of a
    // mount enforces): it fails with its reason ("the registry is unreachable"), which the read's EIO is logged with,
    // and no request stuck on a hung registry keeps its blocks pending after the registry is back.
    private TimeSpan RequestTimeout()
    {
        TimeSpan bound = _options.RequestTimeout - TimeSpan.FromTicks(Math.Min(TimeSpan.TicksPerSecond, _options.RequestTimeout.Ticks / 4));
        return bound < BlockStackOptions.DefaultRequestTimeout ? bound : BlockStackOptions.DefaultRequestTimeout;
    }

    private string CacheDirectory()
        => _options.CacheDirectory ?? PrivateDirectory.FirstWritable("/var/cache/accel/blocks", PrivateDirectory.InTemp("accel-blocks"));
}

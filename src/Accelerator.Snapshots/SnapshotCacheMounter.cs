using Accelerator.Oci;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Accelerator.Snapshots;

/// <summary>
/// The snapshot-cache strategy: mounts a copy-on-write clone of the image's snapshot. It serves an image when its
/// snapshot exists, when a warm of it is running (the mount waits and shares it), or when layers sharing its lowest
/// layers exist and <see cref="SnapshotStoreOptions.TopUpOnMount"/> is set (the missing layers are fetched first);
/// otherwise it reports that it cannot, and the facade falls back to the next strategy.
/// </summary>
public sealed partial class SnapshotCacheMounter : IImageMounter
{
    private readonly ImageStoreResolver _stores;
    private readonly SnapshotStore _store;
    private readonly SnapshotStoreOptions _options;
    private readonly ILogger _logger;

    /// <summary>Creates a mounter over <paramref name="store"/>, resolving images through <paramref name="stores"/>.</summary>
    public SnapshotCacheMounter(ImageStoreResolver stores, SnapshotStore store, SnapshotStoreOptions options, ILogger<SnapshotCacheMounter>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(stores);
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(options);
        _stores = stores;
        _store = store;
        _options = options;
        _logger = (ILogger?)logger ?? NullLogger.Instance;
    }

    /// <summary>The store the snapshots come from.</summary>
    public SnapshotStore Store => _store;

    /// <inheritdoc />
    public Strategy Strategy => Strategy.Cache;

    /// <inheritdoc />
    public async ValueTask<(bool CanMount, string? Reason)> CanMountAsync(ImageReference image, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(image);
        if (_store.TryFindWithoutRegistry(image) is not null)
        {
            return (true, null);
        }

        SnapshotMatch match;
        try
        {
            var store = _stores.GetStore(image);
            // One HEAD of the tag finds a snapshot of its manifest; only when it does not is the image resolved in full.
            if (await _store.TryFindCurrentAsync(store, image, null, cancellationToken).ConfigureAwait(false) is not null)
            {
                return (true, null);
            }

            match = await _store.MatchAsync(store, image, null, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw;
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // Resolution failed; a snapshot warmed under this very reference still serves offline.
            return _store.FindByReference(image).Count == 1 ? (true, null) : (false, $"{image} cannot be resolved ({ex.Message})");
        }

        return match.Kind switch
        {
            SnapshotMatchKind.Exact or SnapshotMatchKind.Warming => (true, null),
            SnapshotMatchKind.Prefix when _options.TopUpOnMount && _options.Kind == SnapshotKind.OverlayTree => (true, null),
            SnapshotMatchKind.Prefix when _options.Kind == SnapshotKind.BlockStack => (false, $"no snapshot of {image} in {_store.Root} (block-stack snapshots match by exact digest only)"),
            SnapshotMatchKind.Prefix => (false, $"no snapshot of {image} in {_store.Root} ({match.SharedLayers} of its {match.TotalLayers} layers are; top-up is off)"),
            _ => (false, $"no snapshot of {image} in {_store.Root}"),
        };
    }

    /// <inheritdoc />
    public async Task<IMountedImage> MountAsync(ImageReference image, string mountPoint, MountOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(image);
        ArgumentNullException.ThrowIfNull(options);
        var mounted = await _store.MountAsync(
            _stores.GetStore(image), image, mountPoint, new SnapshotMountOptions { ReadOnly = options.ReadOnly, Platform = options.Platform }, cancellationToken).ConfigureAwait(false);
        LogMounted(image, mounted.ManifestDigest, mounted.MountPoint, mounted.Statistics.TimeToReady.TotalMilliseconds);
        return mounted;
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Mounted {Image} ({Digest}) from the snapshot cache at {MountPoint} in {Milliseconds:F1} ms.")]
    private partial void LogMounted(ImageReference image, Digest digest, string mountPoint, double milliseconds);
}

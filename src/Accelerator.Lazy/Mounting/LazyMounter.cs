using Accelerator.Linux;
using Accelerator.Chunks;
using Accelerator.Chunks.Caching;
using Accelerator.Chunks.Images;
using Accelerator.Fuse;
using Accelerator.Fuse.FileSystem;
using Accelerator.Fuse.Takeover;
using Accelerator.Lazy.Format;
using Accelerator.Lazy.Prefetch;
using Accelerator.Lazy.Reading;
using Accelerator.Lazy.Seekable;
using Accelerator.Lazy.Statistics;
using Accelerator.Lazy.Tracing;
using Accelerator.Oci;
using Accelerator.Oci.Layers;
using Accelerator.Oci.Model;
using Accelerator.Oci.Resolution;
using Accelerator.Oci.Validation;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Accelerator.Lazy.Mounting;

/// <summary>
/// The lazy strategy: mounts a converted lazy image (the reference itself, or <c>TAG-accel</c> beside it) with FUSE
/// and fetches chunks when they are read. Writable by default (an overlay over the read-only FUSE tree).
/// </summary>
public sealed partial class LazyMounter : IImageMounter
{
    private const string DevFuse = "/dev/fuse";

    private readonly AcceleratedImageResolver _variants;
    private readonly LazyMountOptions _options;
    private readonly ILoggerFactory _loggerFactory;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;

    /// <summary>Creates a lazy mounter reading images through <paramref name="stores"/>.</summary>
    /// <exception cref="ArgumentException">An option is out of range.</exception>
    public LazyMounter(ImageStoreResolver stores, LazyMountOptions options, ILoggerFactory? loggerFactory = null, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        new LazyMountOptionsValidator().ThrowIfInvalid(options, "lazy mount");
        _variants = new AcceleratedImageResolver(stores, LazyFormat.ImageFormat);
        _options = options;
        _loggerFactory = loggerFactory ?? NullLoggerFactory.Instance;
        _logger = _loggerFactory.CreateLogger<LazyMounter>();
        _time = timeProvider ?? TimeProvider.System;
    }

    /// <inheritdoc />
    public Strategy Strategy => Strategy.Lazy;

    /// <inheritdoc />
    /// <remarks>
    /// A converted variant comes first; without one, the image itself when every layer can be read lazily
    /// (<see cref="SeekableMountPlan"/>). The reason names both: why no variant, and the first layer in the way.
    /// </remarks>
    public async ValueTask<(bool CanMount, string? Reason)> CanMountAsync(ImageReference image, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(image);
        if (FuseUnusableReason() is { } fuse)
        {
            return (false, fuse);
        }

        var (lazy, reason) = await _variants.FindVariantAsync(image, null, cancellationToken).ConfigureAwait(false);
        if (lazy is not null)
        {
            return (true, null);
        }

        var (plan, seekableReason) = await TryPlanAsync(image, null, cancellationToken).ConfigureAwait(false);
        return plan is { CanMount: true } ? (true, null) : (false, $"{reason}; not seekable: {seekableReason}");
    }

    /// <inheritdoc />
    public async Task<IMountedImage> MountAsync(ImageReference image, string mountPoint, MountOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(image);
        ArgumentException.ThrowIfNullOrEmpty(mountPoint);
        ArgumentNullException.ThrowIfNull(options);
        long started = _time.GetTimestamp();
        string target = Path.GetFullPath(mountPoint);
        if (!Directory.Exists(target))
        {
            throw new DirectoryNotFoundException($"The mount point '{target}' does not exist.");
        }

        var (lazyReference, reason) = await _variants.FindVariantAsync(image, options.Platform, cancellationToken).ConfigureAwait(false);
        if (lazyReference is not null)
        {
            IImageStore store = _variants.Stores.GetStore(lazyReference);
            LazyImage lazy = await LazyImage.LoadAsync(store, lazyReference, options.Platform, cancellationToken: cancellationToken).ConfigureAwait(false);
            return await MountTreeAsync(image, target, options, started, new ConvertedTree(this, lazy, lazyReference), cancellationToken).ConfigureAwait(false);
        }

        var (plan, seekableReason) = await TryPlanAsync(image, options.Platform, cancellationToken).ConfigureAwait(false);
        if (plan is not { CanMount: true })
        {
            throw new InvalidOperationException($"{image} cannot be mounted lazily: {reason}; not seekable: {seekableReason}");
        }

        var statistics = new LazyMountStatistics(new MountStatistics { Strategy = Strategy.Lazy });
        SeekableImage seekable = await SeekableImage.LoadAsync(
            plan, _variants.Stores.GetStore(image).Blobs, ImageStoreResolver.SourceName(image), statistics.Mount, _options.MaxWholeLayerBytes, cancellationToken).ConfigureAwait(false);
        return await MountTreeAsync(image, target, options, started, new SeekableTree(this, seekable, statistics), cancellationToken).ConfigureAwait(false);
    }

    // The seekable plan, or why none: a registry or layout error while planning is a reason to fall back, not a failure.
    private async Task<(SeekableMountPlan? Plan, string Reason)> TryPlanAsync(ImageReference image, Platform? platform, CancellationToken cancellationToken)
    {
        try
        {
            var plan = await SeekableMountPlan.CreateAsync(_variants.Stores.GetStore(image), image, platform, _options.MaxWholeLayerBytes, cancellationToken).ConfigureAwait(false);
            if (!plan.CanMount)
            {
                LogNotSeekable(image, plan.Reason!);
            }

            return (plan, plan.Reason ?? "");
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw;
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            return (null, $"cannot plan {image}: {ex.Message}");
        }
    }

    // What both kinds of lazy mount share: the takeover lease, the cache, the FUSE tree (fresh or resumed), the overlay,
    // the deposit, the background work, the statistics.
    private async Task<IMountedImage> MountTreeAsync(ImageReference image, string target, MountOptions options, long started, LazyTree tree, CancellationToken cancellationToken)
    {
        // A takeover claims the mount point only now, with the image loaded: a running predecessor serves until then.
        FuseMountLease? lease = null;
        FuseHeldConnection? held = null;
        FuseTakeoverState? heldState = null;
        if (_options.Takeover is { } takeover)
        {
            var identity = new FuseTakeoverIdentity(Strategy.Lazy.Name, image.ToString(), tree.Identity, options.ReadOnly);
            (lease, held, heldState) = await FuseMountLease.AcquireAsync(takeover, target, identity, _logger, cancellationToken).ConfigureAwait(false);
        }

        LazyMountStatistics statistics = tree.Statistics;
        var resources = new MountResources(heldState?.PrivateDirectory ?? CreatePrivateDirectory()) { Lease = lease, LeaveMounted = held is not null };
        try
        {
            resources.Cache = ChunkCache.Open(
                new ChunkCacheOptions { Directory = CacheDirectory(), MaxCacheBytes = _options.MaxCacheBytes },
                _loggerFactory.CreateLogger<ChunkCache>(), _time);
            statistics.Cache = resources.Cache;
            var (index, content) = tree.Open(resources);
            var fileSystem = new ChunkIndexFileSystem(index, content);
            var fuseOptions = new FuseMountOptions { Session = { RequestTimeout = _options.RequestTimeout } };
            if (held is not null && heldState is not null)
            {
                // The same image over the same cache: node ids are the index's inode numbers, so the kernel's are ours.
                resources.Fuse = await FuseMount.ResumeAsync(
                    heldState.FuseMountPoint, held.Device, heldState.Connection, heldState.DeviceMinor, fileSystem, fuseOptions, _loggerFactory, _time, cancellationToken).ConfigureAwait(false);
                resources.Overlay = heldState.Overlay;
                resources.LeaveMounted = false;
            }
            else
            {
                await MountFreshAsync(resources, fileSystem, fuseOptions, target, options.ReadOnly, tree, cancellationToken).ConfigureAwait(false);
                if (lease is not null)
                {
                    using var device = resources.Fuse!.DuplicateDevice();
                    await lease.DepositAsync(device, StateOf(resources, image, tree.Identity, options.ReadOnly), cancellationToken).ConfigureAwait(false);
                }
            }

            if (tree.Background() is { } background)
            {
                resources.StartPrefetch(background);
            }

            MountStatistics mountStatistics = statistics.Mount;
            mountStatistics.TimeToReady = _time.GetElapsedTime(started);
            if (held is not null)
            {
                LogResumed(tree.Reference, tree.ManifestDigest, target, held.PredecessorPid, mountStatistics.TimeToReady.TotalMilliseconds);
            }
            else
            {
                LogMounted(tree.Reference, tree.ManifestDigest, statistics.Source, target, options.ReadOnly, mountStatistics.TimeToReady.TotalMilliseconds);
            }

            var mounted = new LazyMountedImage(image, tree.ManifestDigest, target, statistics, resources, _options, _logger);
            if (lease is not null)
            {
                lease.OnReleaseRequested = resources.HandOverAsync;
            }

            return mounted;
        }
        catch
        {
            await resources.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    private async Task MountFreshAsync(MountResources resources, ChunkIndexFileSystem fileSystem, FuseMountOptions fuseOptions, string target, bool readOnly, LazyTree tree, CancellationToken cancellationToken)
    {
        // A converted image is one tree: read-only, it is mounted on the target itself. A seekable image is a forest of
        // layer trees, always under the private directory, stacked by an overlay (or, one layer read-only, bound).
        string fuseTarget = target;
        if (!readOnly || tree.IsForest)
        {
            fuseTarget = Directory.CreateDirectory(Path.Combine(resources.PrivateDirectory, "lower")).FullName;
        }

        resources.Fuse = await FuseMount.MountAsync(fuseTarget, fileSystem, fuseOptions, _loggerFactory, _time, cancellationToken).ConfigureAwait(false);
        IReadOnlyList<string> lowers = tree.LowerDirectories(fuseTarget);
        if (!readOnly)
        {
            string upper = Directory.CreateDirectory(Path.Combine(resources.PrivateDirectory, "upper")).FullName;
            string work = Directory.CreateDirectory(Path.Combine(resources.PrivateDirectory, "work")).FullName;
            OverlayMount.Mount(lowers, upper, work, target);
            resources.Overlay = target;
        }
        else if (tree.IsForest)
        {
            // overlayfs needs two lower directories when it has no upper one.
            if (lowers.Count == 1)
            {
                FileSystemMount.BindReadOnly(lowers[0], target);
            }
            else
            {
                OverlayMount.Mount(lowers, null, null, target);
            }

            resources.Overlay = target;
        }
    }

    private static FuseTakeoverState StateOf(MountResources resources, ImageReference image, string identity, bool readOnly) => new()
    {
        Strategy = Strategy.Lazy.Name,
        Image = image.ToString(),
        Manifest = identity,
        ReadOnly = readOnly,
        FuseMountPoint = resources.Fuse!.MountPoint,
        DeviceMinor = resources.Fuse.DeviceMinor,
        Connection = resources.Fuse.Session.Connection!,
        PrivateDirectory = resources.PrivateDirectory,
        Overlay = resources.Overlay,
    };

    private static string? FuseUnusableReason()
    {
        try
        {
            using var handle = File.OpenHandle(DevFuse, FileMode.Open, FileAccess.ReadWrite);
            return null;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return $"{DevFuse} is not usable ({ex.Message})";
        }
    }

    private string CacheDirectory()
        => _options.CacheDirectory ?? PrivateDirectory.FirstWritable("/var/cache/accel/chunks", PrivateDirectory.InTemp("accel-chunks"));

    // A ranged request ends a little before the read that waits for it (the fetch bound, which the FUSE session
    // enforces): it fails with its reason ("the registry is unreachable"), which the read's EIO is logged with, and no
    // request stuck on a hung registry keeps its chunks pending after the registry is back.
    private LazyReaderOptions ReaderOptions(string sourceName)
    {
        TimeSpan bound = _options.RequestTimeout - TimeSpan.FromTicks(Math.Min(TimeSpan.TicksPerSecond, _options.RequestTimeout.Ticks / 4));
        TimeSpan reader = _options.Reader.RequestTimeout;
        return _options.Reader with
        {
            SourceName = sourceName,
            RequestTimeout = reader == Timeout.InfiniteTimeSpan || reader > bound ? bound : reader,
        };
    }

    private string CreatePrivateDirectory()
    {
        string parent = _options.StateDirectory ?? PrivateDirectory.FirstWritable(LocalDirectories.RunDirectory, PrivateDirectory.InTemp("accel-run"));
        string directory = PrivateDirectory.CreateUnique(parent, "lazy");

        // Who owns it, so that a later start tells a running mount's directory from one a killed process left.
        DirectoryOwner.Record(directory);
        return directory;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Mounted {Image} ({Digest}, {Source}) lazily at {MountPoint} (read-only: {ReadOnly}) in {Milliseconds:F0} ms.")]
    private partial void LogMounted(ImageReference image, Digest digest, string source, string mountPoint, bool readOnly, double milliseconds);

    [LoggerMessage(Level = LogLevel.Information, Message = "{Image} has no converted lazy variant and cannot be read lazily as it is: {Reason}.")]
    private partial void LogNotSeekable(ImageReference image, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Took over the lazy mount of {Image} ({Digest}) at {MountPoint} from process {Predecessor} in {Milliseconds:F0} ms.")]
    private partial void LogResumed(ImageReference image, Digest digest, string mountPoint, int? predecessor, double milliseconds);
}

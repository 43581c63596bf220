using System.Text.Json;
using Accelerator.Linux;
using Accelerator.Oci.Model;
using Accelerator.Oci.Resolution;
using Accelerator.Block.Mounting;
using Accelerator.Snapshots.Blocks;
using Accelerator.Snapshots.Catalog;
using Accelerator.Snapshots.Storage;
using Accelerator.Snapshots.Warming;
using Microsoft.Extensions.Logging;

namespace Accelerator.Snapshots.Mounting;

/// <summary>
/// Mounts snapshots: finds the snapshot that serves an image (by digest or reference without a registry, by one HEAD
/// of its tag, or by resolving it), waits for or starts a warm when the store can only partly serve it, and clones it
/// copy-on-write — a tree snapshot as an overlay over its layer directories, a block-stack snapshot through FUSE, a
/// loop device and read-only ext4 with an overlay upper directory. Each clone is registered under <c>mounts/ID/</c>
/// before it is mounted, so eviction and recovery see it.
/// </summary>
internal sealed partial class SnapshotCloner(SnapshotCatalog catalog, TreeSnapshotWarmer trees, BlockSnapshotWarmer blocks, ILogger logger)
{
    private readonly ILogger _logger = logger;

    /// <summary>Whether a warm of <paramref name="manifestDigest"/>, of either kind, runs in this process.</summary>
    public bool IsWarmingHere(Digest manifestDigest) => trees.Running.TryGet(manifestDigest, out _) || blocks.Running.TryGet(manifestDigest, out _);

    /// <summary>Clones the snapshot that serves <paramref name="image"/>, warming it first when a warm runs or its lowest layers are here (see <see cref="SnapshotStore.MountAsync(IImageStore, ImageReference, string, SnapshotMountOptions?, CancellationToken)"/>).</summary>
    /// <exception cref="SnapshotNotFoundException">Nothing in the store can serve the image.</exception>
    public async Task<SnapshotMountedImage> MountAsync(IImageStore store, ImageReference image, string target, SnapshotMountOptions? options, CancellationToken cancellationToken)
    {
        options ??= new SnapshotMountOptions();
        long started = catalog.Time.GetTimestamp();
        string mountPoint = Path.GetFullPath(target);
        if (!Directory.Exists(mountPoint))
        {
            throw new DirectoryNotFoundException($"The mount point '{mountPoint}' does not exist.");
        }

        ImageRecord? record;
        if (TryFindWithoutRegistry(image) is { } known)
        {
            // Pinned by digest (or tags are not re-resolved): the snapshot is the image, no registry round trip.
            record = catalog.TryLoadImage(known.ManifestDigest) ?? throw new SnapshotNotFoundException($"The snapshot of {image} is no longer valid.");
            return await CloneAsync(record, image, mountPoint, options.ReadOnly, started, null, cancellationToken).ConfigureAwait(false);
        }

        SnapshotWarmResult? warm = null;
        ImageKey key = null!;
        try
        {
            record = await TryLoadCurrentAsync(store, image, options.Platform, cancellationToken).ConfigureAwait(false);
            if (record is null)
            {
                key = await SnapshotCatalog.ResolveAsync(store, image, options.Platform, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (NotSupportedException) when (catalog.Options.Kind == SnapshotKind.BlockStack || TryFindBlockByReference(image))
        {
            // Not a tar-layer image (e.g. a block image itself): only a block-stack snapshot of that manifest can serve.
            return await MountBlockImageAsync(store, image, mountPoint, options, started, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is HttpRequestException or IOException or TimeoutException && catalog.FindByReference(image) is [var cached])
        {
            // The registry is unreachable; a snapshot warmed under this very reference still serves.
            LogResolveFailedUsingSnapshot(image, cached.ManifestDigest, ex.Message);
            record = catalog.TryLoadImage(cached.ManifestDigest) ?? throw new SnapshotNotFoundException($"No snapshot of {image} is in {catalog.Root}.");
            return await CloneAsync(record, image, mountPoint, options.ReadOnly, started, null, cancellationToken).ConfigureAwait(false);
        }

        if (record is not null)
        {
            return await CloneAsync(record, image, mountPoint, options.ReadOnly, started, null, cancellationToken).ConfigureAwait(false);
        }

        record = catalog.TryLoadImage(key.ManifestDigest);
        if (record is null)
        {
            var match = catalog.Match(key, IsWarmingHere(key.ManifestDigest));
            bool block = catalog.Options.Kind == SnapshotKind.BlockStack;
            if (match.Kind == SnapshotMatchKind.None || (match.Kind == SnapshotMatchKind.Prefix && (block || !(options.TopUp ?? catalog.Options.TopUpOnMount))))
            {
                throw new SnapshotNotFoundException(match.Kind == SnapshotMatchKind.None
                    ? $"No snapshot of {image} ({key.ManifestDigest}) is in {catalog.Root}, and none shares a layer with it."
                    : $"No snapshot of {image} ({key.ManifestDigest}) is in {catalog.Root} ({match.SharedLayers} of its {match.TotalLayers} layers are).");
            }

            if (match.Kind == SnapshotMatchKind.Warming)
            {
                // A warm of either kind is running: wait for it and mount what it published.
                warm = await WaitForWarmAsync(key.ManifestDigest, cancellationToken).ConfigureAwait(false);
                record = catalog.TryLoadImage(key.ManifestDigest);
            }

            if (record is null)
            {
                warm = block
                    ? await blocks.WarmAsync(store, image, options.Platform, cancellationToken).ConfigureAwait(false)
                    : await trees.WarmAsync(store, key, cancellationToken).ConfigureAwait(false);
                record = catalog.TryLoadImage(key.ManifestDigest) ?? throw new SnapshotNotFoundException($"The snapshot of {image} was evicted before it could be mounted.");
            }
        }

        return await CloneAsync(record, image, mountPoint, options.ReadOnly, started, warm, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// The snapshot that serves <paramref name="image"/> without asking its registry: one whose manifest (or the index
    /// it was warmed from) has the reference's digest; or, when <see cref="SnapshotStoreOptions.ResolveTags"/> is off,
    /// the one warmed under the same reference. Null when there is none, or more than one.
    /// </summary>
    public SnapshotInfo? TryFindWithoutRegistry(ImageReference image)
    {
        return image.Digest is not null || !catalog.Options.ResolveTags
            ? catalog.FindByReference(image) is [var only] ? only : null
            : null;
    }

    /// <summary>
    /// The snapshot of the manifest a tag names now, found with one HEAD request (no manifest or config read, nothing
    /// hashed): null when the reference is pinned by digest, a platform is asked for, the tag names an index, or there
    /// is no snapshot of that manifest — the caller then resolves the image in full.
    /// </summary>
    public async Task<SnapshotInfo?> TryFindCurrentAsync(IImageStore store, ImageReference image, Platform? platform, CancellationToken cancellationToken)
    {
        return await TryLoadCurrentAsync(store, image, platform, cancellationToken).ConfigureAwait(false) is { } record
            ? catalog.Describe(record)
            : null;
    }

    private async Task<ImageRecord?> TryLoadCurrentAsync(IImageStore store, ImageReference image, Platform? platform, CancellationToken cancellationToken)
    {
        // An index would need its platform's manifest picked (a GET); an explicit platform needs the config checked.
        if (image.Digest is not null || platform is not null)
        {
            return null;
        }

        var current = await store.GetManifestDescriptorAsync(image, cancellationToken).ConfigureAwait(false);
        return MediaTypes.IsIndex(current.MediaType) ? null : catalog.TryLoadImage(current.Digest);
    }

    /// <summary>Clones an existing snapshot by manifest digest (no registry involved).</summary>
    /// <exception cref="SnapshotNotFoundException">There is no valid snapshot of <paramref name="manifestDigest"/>.</exception>
    public Task<SnapshotMountedImage> MountAsync(Digest manifestDigest, ImageReference image, string target, bool readOnly, CancellationToken cancellationToken)
    {
        long started = catalog.Time.GetTimestamp();
        var record = catalog.TryLoadImage(manifestDigest) ?? throw new SnapshotNotFoundException($"No snapshot of {manifestDigest} is in {catalog.Root}.");
        return CloneAsync(record, image, Path.GetFullPath(target), readOnly, started, null, cancellationToken);
    }

    private async Task<SnapshotMountedImage> CloneAsync(ImageRecord record, ImageReference image, string mountPoint, bool readOnly, long started, SnapshotWarmResult? warm, CancellationToken cancellationToken)
    {
        if (record.Kind == SnapshotKinds.BlockStack)
        {
            return await CloneBlockAsync(record, image, mountPoint, readOnly, started, warm, cancellationToken).ConfigureAwait(false);
        }

        Digest digest = Digest.Parse(record.ManifestDigest);
        var chain = record.ChainIds.Select(Digest.Parse).ToArray();
        var (directory, registering) = await RegisterAsync(record, image, mountPoint, withUpper: !readOnly, cancellationToken).ConfigureAwait(false);
        try
        {
            var lowers = chain.Reverse().Select(catalog.LayerTree).ToArray();
            if (readOnly && lowers.Length == 1)
            {
                FileSystemMount.BindReadOnly(lowers[0], mountPoint);
            }
            else if (readOnly)
            {
                OverlayMount.Mount(lowers, null, null, mountPoint);
            }
            else
            {
                LibC.CopyDirectoryAttributes(lowers[0], Path.Combine(directory, "upper"));
                OverlayMount.Mount(lowers, Path.Combine(directory, "upper"), Path.Combine(directory, "work"), mountPoint);
            }
        }
        catch
        {
            registering.Dispose();
            catalog.DeleteTree(directory);
            throw;
        }

        var statistics = StatisticsOf(started, warm);

        // Once the overlay is mounted, the mount table itself says the clone is in use.
        registering.Dispose();
        LogMounted(image, digest, mountPoint, chain.Length, statistics.TimeToReady.TotalMilliseconds);
        return new SnapshotMountedImage(this, image, digest, mountPoint, directory, readOnly, statistics);
    }

    /// <summary>Unmounts a clone (a block clone: its overlay, file system, loop device and FUSE disk) and removes its directory.</summary>
    public async ValueTask ReleaseCloneAsync(string mountPoint, string directory, IAsyncDisposable? block)
    {
        if (block is not null)
        {
            await block.DisposeAsync().ConfigureAwait(false);
        }
        else
        {
            FileSystemMount.Unmount(mountPoint);
        }

        catalog.DeleteTree(directory);
    }

    /// <summary>Waits for the warm of <paramref name="manifestDigest"/> running here (its result) or in another process (its image lock).</summary>
    private async Task<SnapshotWarmResult?> WaitForWarmAsync(Digest manifestDigest, CancellationToken cancellationToken)
    {
        if (trees.Running.TryGet(manifestDigest, out var running) || blocks.Running.TryGet(manifestDigest, out running))
        {
            try
            {
                return await running.WaitAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                // That warm failed; the caller warms again (and reports its own error).
                return null;
            }
        }

        using (await FileLock.AcquireAsync(catalog.ImageLockPath(manifestDigest), cancellationToken).ConfigureAwait(false))
        {
            return null;
        }
    }

    private bool TryFindBlockByReference(ImageReference image)
        => catalog.FindByReference(image).Any(s => s.Kind == SnapshotKind.BlockStack) || image.Tag?.EndsWith(Accelerator.Block.Format.BlockFormat.TagSuffix, StringComparison.Ordinal) == true;

    private async Task<SnapshotMountedImage> MountBlockImageAsync(IImageStore store, ImageReference image, string mountPoint, SnapshotMountOptions options, long started, CancellationToken cancellationToken)
    {
        Digest digest = await TryResolveDigestAsync(store, image, options.Platform, cancellationToken).ConfigureAwait(false)
            ?? throw new SnapshotNotFoundException($"{image} cannot be resolved.");
        var record = catalog.TryLoadImage(digest);
        SnapshotWarmResult? warm = null;
        if (record is null && catalog.Options.Kind == SnapshotKind.BlockStack && (blocks.Running.TryGet(digest, out _) || FileLock.IsHeld(catalog.ImageLockPath(digest))))
        {
            warm = await blocks.WarmAsync(store, image, options.Platform, cancellationToken).ConfigureAwait(false);
            record = catalog.TryLoadImage(digest);
        }

        return record is null
            ? throw new SnapshotNotFoundException($"No snapshot of {image} ({digest}) is in {catalog.Root}.")
            : await CloneAsync(record, image, mountPoint, options.ReadOnly, started, warm, cancellationToken).ConfigureAwait(false);
    }

    private static async Task<Digest?> TryResolveDigestAsync(IImageStore store, ImageReference image, Platform? platform, CancellationToken cancellationToken)
    {
        try
        {
            return (await ImageResolver.ResolveAsync(store, image, platform, cancellationToken).ConfigureAwait(false)).Manifest.Digest;
        }
        catch (Exception ex) when (ex is not OperationCanceledException and not OutOfMemoryException)
        {
            return null;
        }
    }

    /// <summary>Clones a block-stack snapshot: its verified disk mounted through FUSE, a loop device and read-only ext4, with an overlay upper directory for writes.</summary>
    private async Task<SnapshotMountedImage> CloneBlockAsync(ImageRecord record, ImageReference image, string mountPoint, bool readOnly, long started, SnapshotWarmResult? warm, CancellationToken cancellationToken)
    {
        Digest digest = Digest.Parse(record.ManifestDigest);
        Digest key = Digest.Parse(record.ChainIds[0]);
        var (directory, registering) = await RegisterAsync(record, image, mountPoint, withUpper: false, cancellationToken).ConfigureAwait(false);

        BlockMountedImage block;
        try
        {
            BlockSnapshotDisk disk;
            try
            {
                disk = BlockSnapshotDisk.Open(catalog.LayerPath(key), SnapshotCatalog.BlockDiskFile, SnapshotCatalog.BlockIndexFile, key);
            }
            catch (InvalidDataException ex)
            {
                throw new SnapshotNotFoundException($"The block snapshot of {image} ({digest}) is corrupt: {ex.Message}");
            }

            var mounter = new BlockMounter([], new BlockMountOptions { StateDirectory = directory }, timeProvider: catalog.Time);
            block = await mounter.MountDiskAsync(disk, mountPoint, readOnly, ownsDisk: true, image, cancellationToken).ConfigureAwait(false);
            if (block.UpperDirectory is { } upper)
            {
                // The overlay's merged root shows its upper directory's owner, mode and times: give it the image root's
                // (from the read-only file system beside it), as a tree clone's upper root gets them.
                try
                {
                    LibC.CopyDirectoryAttributes(Path.Combine(Path.GetDirectoryName(upper)!, "lower"), mountPoint);
                }
                catch
                {
                    await block.DisposeAsync().ConfigureAwait(false);
                    throw;
                }
            }
        }
        catch
        {
            registering.Dispose();
            catalog.DeleteTree(directory);
            throw;
        }

        var statistics = StatisticsOf(started, warm);

        registering.Dispose();
        LogMounted(image, digest, mountPoint, 1, statistics.TimeToReady.TotalMilliseconds);
        return new SnapshotMountedImage(this, image, digest, mountPoint, directory, readOnly, statistics, block);
    }

    /// <summary>
    /// Registers a new clone of <paramref name="record"/>: its directory under <c>mounts/</c>, holding a lock (so
    /// recovery and eviction see it in use while it is being mounted) and its mount record. Checked under the store
    /// lock, which eviction also takes: the snapshot's layers are valid and stay until the clone is gone.
    /// </summary>
    private async Task<(string Directory, FileLock Registering)> RegisterAsync(ImageRecord record, ImageReference image, string mountPoint, bool withUpper, CancellationToken cancellationToken)
    {
        Digest digest = Digest.Parse(record.ManifestDigest);
        string directory = Path.Combine(catalog.MountsDirectory, Guid.NewGuid().ToString("N"));
        using (await catalog.LockStoreAsync(cancellationToken).ConfigureAwait(false))
        {
            if (catalog.TryLoadImage(digest) is null)
            {
                throw new SnapshotNotFoundException($"The snapshot of {image} ({digest}) is no longer valid or was evicted.");
            }

            Directory.CreateDirectory(directory);
            var registering = FileLock.TryAcquire(Path.Combine(directory, ".lock")) ?? throw new IOException($"Cannot lock {directory}.");
            if (withUpper)
            {
                Directory.CreateDirectory(Path.Combine(directory, "upper"));
                Directory.CreateDirectory(Path.Combine(directory, "work"));
            }

            var mountRecord = new MountRecord { ManifestDigest = record.ManifestDigest, Target = mountPoint, ChainIds = record.ChainIds, Created = catalog.Time.GetUtcNow() };
            File.WriteAllBytes(Path.Combine(directory, "mount.json"), JsonSerializer.SerializeToUtf8Bytes(mountRecord, RecordJson.Default.MountRecord));
            catalog.Touch(digest);
            return (directory, registering);
        }
    }

    /// <summary>A clone's statistics: the time since <paramref name="started"/> and what the warm it waited for fetched.</summary>
    private MountStatistics StatisticsOf(long started, SnapshotWarmResult? warm)
    {
        var statistics = new MountStatistics { Strategy = Strategy.Cache, TimeToReady = catalog.Time.GetElapsedTime(started) };
        if (warm is not null)
        {
            foreach (var (source, bytes) in warm.BytesFetchedBySource)
            {
                statistics.AddFetched(source, bytes);
            }

            statistics.AddChunks(warm.LayersFetched);
        }

        return statistics;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Cloned the snapshot of {Image} ({Digest}) at {MountPoint}: {Layers} layers in {Milliseconds:F1} ms.")]
    private partial void LogMounted(ImageReference image, Digest digest, string mountPoint, int layers, double milliseconds);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Resolving {Image} failed ({Reason}); using its snapshot {Digest}.")]
    private partial void LogResolveFailedUsingSnapshot(ImageReference image, Digest digest, string reason);
}

using System.Diagnostics;
using System.Text.Json;
using Accelerator.Linux;
using Accelerator.Oci.Model;
using Accelerator.Oci.Resolution;
using Accelerator.Snapshots.Storage;

namespace Accelerator.Snapshots;

public sealed partial class SnapshotStore
{
    /// <summary>
    /// Clones the snapshot of <paramref name="image"/> at <paramref name="target"/> (an existing directory): an overlay
    /// whose lower directories are the snapshot's layers and whose upper directory is new, so the time does not grow
    /// with the image's size and writes never reach the snapshot. When there is no snapshot of the image but a warm of
    /// it is running, or layers sharing its lowest layers exist, it is warmed first (see
    /// <see cref="SnapshotMountOptions.TopUp"/>). A tag is resolved through <paramref name="store"/>; when that fails,
    /// a snapshot warmed under the same reference is used.
    /// </summary>
    /// <exception cref="SnapshotNotFoundException">Nothing in the store can serve the image.</exception>
    public async Task<SnapshotMountedImage> MountAsync(IImageStore store, ImageReference image, string target, SnapshotMountOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(image);
        ArgumentException.ThrowIfNullOrEmpty(target);
        options ??= new SnapshotMountOptions();
        long started = _time.GetTimestamp();
        string mountPoint = Path.GetFullPath(target);
        if (!Directory.Exists(mountPoint))
        {
            throw new DirectoryNotFoundException($"The mount point '{mountPoint}' does not exist.");
        }

        ImageRecord? record;
        if (TryFindWithoutRegistry(image) is { } known)
        {
            // Pinned by digest (or tags are not re-resolved): the snapshot is the image, no registry round trip.
            record = TryLoadImage(known.ManifestDigest) ?? throw new SnapshotNotFoundException($"The snapshot of {image} is no longer valid.");
            return await CloneAsync(record, image, mountPoint, options.ReadOnly, started, null, cancellationToken).ConfigureAwait(false);
        }

        SnapshotWarmResult? warm = null;
        ImageKey key = null!;
        try
        {
            record = await TryLoadCurrentAsync(store, image, options.Platform, cancellationToken).ConfigureAwait(false);
            if (record is null)
            {
                key = await ResolveAsync(store, image, options.Platform, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (NotSupportedException) when (_options.Kind == SnapshotKind.BlockStack || TryFindBlockByReference(image))
        {
            // Not a tar-layer image (e.g. a block image itself): only a block-stack snapshot of that manifest can serve.
            return await MountBlockImageAsync(store, image, mountPoint, options, started, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is HttpRequestException or IOException or TimeoutException && FindByReference(image) is [var cached])
        {
            // The registry is unreachable; a snapshot warmed under this very reference still serves.
            LogResolveFailedUsingSnapshot(image, cached.ManifestDigest, ex.Message);
            record = TryLoadImage(cached.ManifestDigest) ?? throw new SnapshotNotFoundException($"No snapshot of {image} is in {Root}.");
            return await CloneAsync(record, image, mountPoint, options.ReadOnly, started, null, cancellationToken).ConfigureAwait(false);
        }

        if (record is not null)
        {
            return await CloneAsync(record, image, mountPoint, options.ReadOnly, started, null, cancellationToken).ConfigureAwait(false);
        }

        record = TryLoadImage(key.ManifestDigest);
        if (record is null)
        {
            var match = Match(key);
            bool block = _options.Kind == SnapshotKind.BlockStack;
            if (match.Kind == SnapshotMatchKind.None || (match.Kind == SnapshotMatchKind.Prefix && (block || !(options.TopUp ?? _options.TopUpOnMount))))
            {
                throw new SnapshotNotFoundException(match.Kind == SnapshotMatchKind.None
                    ? $"No snapshot of {image} ({key.ManifestDigest}) is in {Root}, and none shares a layer with it."
                    : $"No snapshot of {image} ({key.ManifestDigest}) is in {Root} ({match.SharedLayers} of its {match.TotalLayers} layers are).");
            }

            if (match.Kind == SnapshotMatchKind.Warming)
            {
                // A warm of either kind is running: wait for it and mount what it published.
                warm = await WaitForWarmAsync(key.ManifestDigest, cancellationToken).ConfigureAwait(false);
                record = TryLoadImage(key.ManifestDigest);
            }

            if (record is null)
            {
                warm = block
                    ? await WarmAsync(store, image, SnapshotKind.BlockStack, options.Platform, cancellationToken).ConfigureAwait(false)
                    : await WarmAsync(store, key, cancellationToken).ConfigureAwait(false);
                record = TryLoadImage(key.ManifestDigest) ?? throw new SnapshotNotFoundException($"The snapshot of {image} was evicted before it could be mounted.");
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
        ArgumentNullException.ThrowIfNull(image);
        return image.Digest is not null || !_options.ResolveTags
            ? FindByReference(image) is [var only] ? only : null
            : null;
    }

    /// <summary>
    /// The snapshot of the manifest a tag names now, found with one HEAD request (no manifest or config read, nothing
    /// hashed): null when the reference is pinned by digest, a platform is asked for, the tag names an index, or there
    /// is no snapshot of that manifest — the caller then resolves the image in full.
    /// </summary>
    public async Task<SnapshotInfo?> TryFindCurrentAsync(IImageStore store, ImageReference image, Platform? platform = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(image);
        return await TryLoadCurrentAsync(store, image, platform, cancellationToken).ConfigureAwait(false) is { } record
            ? Describe(record, LiveMounts())
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
        return MediaTypes.IsIndex(current.MediaType) ? null : TryLoadImage(current.Digest);
    }

    /// <summary>Clones an existing snapshot by manifest digest (no registry involved).</summary>
    /// <exception cref="SnapshotNotFoundException">There is no valid snapshot of <paramref name="manifestDigest"/>.</exception>
    public Task<SnapshotMountedImage> MountAsync(Digest manifestDigest, ImageReference image, string target, bool readOnly = false, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(image);
        long started = _time.GetTimestamp();
        var record = TryLoadImage(manifestDigest) ?? throw new SnapshotNotFoundException($"No snapshot of {manifestDigest} is in {Root}.");
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
        string id = Guid.NewGuid().ToString("N");
        string directory = Path.Combine(MountsDirectory, id);
        FileLock registering;
        using (await LockStoreAsync(cancellationToken).ConfigureAwait(false))
        {
            // Checked under the store lock, which eviction also takes: the layers are valid and stay until the clone is gone.
            if (TryLoadImage(digest) is null)
            {
                throw new SnapshotNotFoundException($"The snapshot of {image} ({digest}) is no longer valid or was evicted.");
            }

            Directory.CreateDirectory(directory);
            registering = FileLock.TryAcquire(Path.Combine(directory, ".lock")) ?? throw new IOException($"Cannot lock {directory}.");
            if (!readOnly)
            {
                Directory.CreateDirectory(Path.Combine(directory, "upper"));
                Directory.CreateDirectory(Path.Combine(directory, "work"));
            }

            var mountRecord = new MountRecord { ManifestDigest = record.ManifestDigest, Target = mountPoint, ChainIds = record.ChainIds, Created = _time.GetUtcNow() };
            File.WriteAllBytes(Path.Combine(directory, "mount.json"), JsonSerializer.SerializeToUtf8Bytes(mountRecord, RecordJson.Default.MountRecord));
            Touch(digest);
        }

        try
        {
            var lowers = chain.Reverse().Select(LayerTree).ToArray();
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
            DeleteTree(directory);
            throw;
        }

        var statistics = new MountStatistics { Strategy = Strategy.Cache, TimeToReady = _time.GetElapsedTime(started) };
        if (warm is not null)
        {
            foreach (var (source, bytes) in warm.BytesFetchedBySource)
            {
                statistics.AddFetched(source, bytes);
            }

            statistics.AddChunks(warm.LayersFetched);
        }

        // Once the overlay is mounted, the mount table itself says the clone is in use.
        registering.Dispose();
        LogMounted(image, digest, mountPoint, chain.Length, statistics.TimeToReady.TotalMilliseconds);
        return new SnapshotMountedImage(this, image, digest, mountPoint, directory, readOnly, statistics);
    }

    /// <summary>Unmounts a clone (a block clone: its overlay, file system, loop device and FUSE disk) and removes its directory.</summary>
    internal async ValueTask ReleaseCloneAsync(string mountPoint, string directory, IAsyncDisposable? block)
    {
        if (block is not null)
        {
            await block.DisposeAsync().ConfigureAwait(false);
        }
        else
        {
            OverlayMount.Unmount(mountPoint);
        }

        DeleteTree(directory);
    }

    /// <summary>Waits for the warm of <paramref name="manifestDigest"/> running here (its result) or in another process (its image lock).</summary>
    private async Task<SnapshotWarmResult?> WaitForWarmAsync(Digest manifestDigest, CancellationToken cancellationToken)
    {
        if (_warms.TryGetValue(manifestDigest, out var running) || _blockWarms.TryGetValue(manifestDigest, out running))
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

        using (await FileLock.AcquireAsync(ImageLockPath(manifestDigest), cancellationToken).ConfigureAwait(false))
        {
            return null;
        }
    }

    private bool TryFindBlockByReference(ImageReference image)
        => FindByReference(image).Any(s => s.Kind == SnapshotKind.BlockStack) || image.Tag?.EndsWith(Accelerator.Block.Format.BlockFormat.TagSuffix, StringComparison.Ordinal) == true;

    private async Task<SnapshotMountedImage> MountBlockImageAsync(IImageStore store, ImageReference image, string mountPoint, SnapshotMountOptions options, long started, CancellationToken cancellationToken)
    {
        Digest digest = await TryResolveDigestAsync(store, image, options.Platform, cancellationToken).ConfigureAwait(false)
            ?? throw new SnapshotNotFoundException($"{image} cannot be resolved.");
        var record = TryLoadImage(digest);
        SnapshotWarmResult? warm = null;
        if (record is null && _options.Kind == SnapshotKind.BlockStack && (_blockWarms.ContainsKey(digest) || FileLock.IsHeld(ImageLockPath(digest))))
        {
            warm = await WarmAsync(store, image, SnapshotKind.BlockStack, options.Platform, cancellationToken).ConfigureAwait(false);
            record = TryLoadImage(digest);
        }

        return record is null
            ? throw new SnapshotNotFoundException($"No snapshot of {image} ({digest}) is in {Root}.")
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

    /// <summary>The clones in use: their snapshots and the layers under them.</summary>
    private sealed record MountState(HashSet<string> Digests, HashSet<string> ChainIds, List<string> Stale);

    private MountState LiveMounts()
    {
        var table = MountTable.Read();
        var state = new MountState(new HashSet<string>(StringComparer.Ordinal), new HashSet<string>(StringComparer.Ordinal), []);
        foreach (string directory in Directory.EnumerateDirectories(MountsDirectory))
        {
            var record = RecordJson.TryRead(Path.Combine(directory, "mount.json"), RecordJson.Default.MountRecord);
            bool registering = FileLock.IsHeld(Path.Combine(directory, ".lock"));
            bool mounted = record is not null
                && (MountTable.IsUpperInUse(table, Path.Combine(directory, "upper")) || table.Any(m => m.MountPoint == record.Target));
            if (registering || mounted)
            {
                if (record is not null)
                {
                    state.Digests.Add(record.ManifestDigest);
                    state.ChainIds.UnionWith(record.ChainIds);
                }
            }
            else
            {
                state.Stale.Add(directory);
            }
        }

        return state;
    }
}

/// <summary>Nothing in the snapshot store can serve an image.</summary>
public sealed class SnapshotNotFoundException : Exception
{
    /// <summary>Creates the exception.</summary>
    public SnapshotNotFoundException(string message)
        : base(message)
    {
    }
}

/// <summary>
/// A copy-on-write clone of a snapshot, mounted. Disposing it unmounts the overlay and discards its upper directory
/// (the writes made in it); the snapshot itself never changes. A clone of a block-stack snapshot is served by this
/// process (FUSE), so it lasts as long as the process or until disposed.
/// </summary>
public sealed class SnapshotMountedImage : IMountedImage
{
    private readonly SnapshotStore _store;
    private readonly string _directory;
    private readonly Accelerator.Block.Mounting.BlockMountedImage? _block;
    private int _disposed;

    internal SnapshotMountedImage(
        SnapshotStore store, ImageReference image, Digest manifestDigest, string mountPoint, string directory, bool readOnly, MountStatistics statistics,
        Accelerator.Block.Mounting.BlockMountedImage? block = null)
    {
        _store = store;
        _directory = directory;
        _block = block;
        Image = image;
        ManifestDigest = manifestDigest;
        MountPoint = mountPoint;
        UpperDirectory = readOnly ? null : block is not null ? block.UpperDirectory : Path.Combine(directory, "upper");
        Statistics = statistics;
    }

    /// <summary>The kind of snapshot this is a clone of.</summary>
    public SnapshotKind Kind => _block is null ? SnapshotKind.OverlayTree : SnapshotKind.BlockStack;

    /// <summary>For a block-stack clone: the loop device its file system is mounted from; else null.</summary>
    public string? LoopDevice => _block?.LoopDevice;

    /// <inheritdoc />
    public ImageReference Image { get; }

    /// <inheritdoc />
    public Digest ManifestDigest { get; }

    /// <inheritdoc />
    public string MountPoint { get; }

    /// <summary>Where the clone's writes land; null for a read-only clone.</summary>
    public string? UpperDirectory { get; }

    /// <inheritdoc />
    public MountStatistics Statistics { get; }

    /// <inheritdoc />
    public ValueTask DisposeAsync()
        => Interlocked.Exchange(ref _disposed, 1) == 0 ? _store.ReleaseCloneAsync(MountPoint, _directory, _block) : ValueTask.CompletedTask;
}

using System.Globalization;
using System.Text.Json;
using Accelerator.Linux;
using Accelerator.Oci;
using Accelerator.Oci.Model;
using Accelerator.Snapshotter.Hosting;
using Accelerator.Snapshotter.Layers;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Accelerator.Snapshotter.Remote;

/// <summary>
/// Remote snapshots: layers of an image that the facade (<see cref="IImageAccelerator"/>: cache, lazy, block — never a
/// full pull, which is containerd's own download) can mount become committed snapshots containerd does not download.
/// One decision per image (its manifest digest in its repository), made on the first Prepare with the CRI labels and shared by every layer
/// and concurrent Prepare; the mount (<c>DIRECTORY/ID/mnt</c>, read-only) is the flattened lower directory of the
/// image's top layer; an intermediate layer used as another image's parent is unpacked from its original layers.
/// </summary>
public sealed partial class RemoteLayerProvider : ILayerProvider, IAsyncDisposable
{
    /// <summary>The provider's name in <see cref="LayerSource.Provider"/>.</summary>
    public const string ProviderName = "remote";

    /// <summary>Asked after the snapshot-store provider (order 0).</summary>
    public const int ProviderOrder = 100;

    /// <summary>The strategy name shown for images containerd downloads itself.</summary>
    public const string Ordinary = "ordinary";

    // Source properties (LayerSource.Properties): enough to find the image again after a restart.
    internal const string ImageProperty = "image";
    internal const string ManifestProperty = "manifest";
    internal const string DepthProperty = "depth";
    internal const string LayersProperty = "layers";
    internal const string ChainProperty = "chain";

    private readonly IImageAccelerator _accelerator;
    private readonly ImageStoreResolver _stores;
    private readonly RemoteSnapshotOptions _options;
    private readonly RemoteSnapshotMetrics _metrics;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly string _directory;
    private readonly CancellationTokenSource _stopping = new();
    private readonly object _lock = new();
    private readonly Dictionary<string, Task<Decision>> _decisions = new(StringComparer.Ordinal);
    private readonly Dictionary<string, RemoteImage> _images = new(StringComparer.Ordinal);
    private readonly LinkedList<RemoteImageStatus> _ordinary = new();
    private readonly IReadOnlySet<string> _held;
    private readonly Task _resuming;
    private int _lastId;
    private bool _disposed;

    /// <summary>
    /// Creates the provider and loads the images served before a restart: those whose mount a holder still keeps
    /// (<paramref name="heldMounts"/>) are taken over at once, in the background; the others are mounted again when
    /// first used.
    /// </summary>
    /// <exception cref="InvalidOperationException">The accelerator includes the full-pull strategy (containerd downloads ordinary images itself).</exception>
    public RemoteLayerProvider(
        IImageAccelerator accelerator,
        ImageStoreResolver stores,
        IOptions<RemoteSnapshotOptions> options,
        RemoteSnapshotMetrics? metrics = null,
        ILogger<RemoteLayerProvider>? logger = null,
        TimeProvider? time = null,
        IHeldMounts? heldMounts = null)
    {
        ArgumentNullException.ThrowIfNull(accelerator);
        ArgumentNullException.ThrowIfNull(stores);
        ArgumentNullException.ThrowIfNull(options);
        if (new RemoteSnapshotOptionsValidator().Validate(null, options.Value) is { Failed: true } failed)
        {
            throw new OptionsValidationException(nameof(RemoteSnapshotOptions), typeof(RemoteSnapshotOptions), failed.Failures);
        }

        if (accelerator.Strategies.Contains(Strategy.Full))
        {
            throw new InvalidOperationException(
                "The remote snapshots' accelerator must not include the full strategy: an image no accelerated strategy serves is downloaded by containerd itself.");
        }

        _accelerator = accelerator;
        _stores = stores;
        _options = options.Value;
        _metrics = metrics ?? new RemoteSnapshotMetrics();
        _logger = (ILogger?)logger ?? NullLogger.Instance;
        _time = time ?? TimeProvider.System;
        _directory = PrivateDirectory.Create(_options.Directory);
        // Asked once, before anything is unmounted: what a holder keeps alive here is resumed, never unmounted.
        _held = new HashSet<string>(heldMounts?.GetHeldPathsAsync(CancellationToken.None).GetAwaiter().GetResult() ?? [], StringComparer.Ordinal);
        Load();
        _resuming = ResumeHeldAsync(_stopping.Token);
    }

    /// <inheritdoc />
    public string Name => ProviderName;

    /// <inheritdoc />
    public int Order => ProviderOrder;

    /// <summary>The decisions counted so far, per strategy and reason category.</summary>
    public RemoteSnapshotMetrics Metrics => _metrics;

    /// <inheritdoc />
    public async Task<LayerSource?> TryProvideAsync(LayerRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (!RemoteImageLabels.TryRead(request.Labels, out var image, out var manifest, out string? reason))
        {
            string category = request.Labels.ContainsKey(RemoteImageLabels.ImageRef) ? "bad-labels" : "no-cri-labels";
            _metrics.Decided(Ordinary, category, null);
            LogNoImage(request.ChainId, reason);
            return null;
        }

        Decision decision = await DecideAsync(image, manifest).WaitAsync(cancellationToken).ConfigureAwait(false);
        if (decision.Served is not { } served)
        {
            return null;
        }

        RemoteImageManifest layers = served.Manifest
            ?? await ReadManifestAsync(served, cancellationToken).ConfigureAwait(false);
        int depth = layers.DepthOf(request.ChainId);
        string? expectedParent = depth > 0 ? layers.ChainIds[depth - 1] : null;
        if (depth < 0 || !IsParent(request.Parent, expectedParent))
        {
            LogChainMismatch(request.ChainId, request.Parent, image, manifest);
            return null;
        }

        lock (_lock)
        {
            if (served.Released)
            {
                return null;
            }

            if (served.Snapshots.Add(request.ChainId))
            {
                WriteRecord(served);
            }
        }

        LogProvided(request.ChainId, depth, served.LayerCount, image, served.Strategy);
        return SourceOf(served, depth, request.ChainId);
    }

    /// <inheritdoc />
    public async Task<LowerDirectories> ResolveLowerAsync(LayerSource source, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(source);
        ObjectDisposedException.ThrowIf(_disposed, this);
        var (image, manifest, depth, layerCount, chain) = Parse(source);
        RemoteImage served = Find(image, manifest, layerCount, chain);
        if (depth == layerCount - 1)
        {
            await EnsureMountedAsync(served, cancellationToken).ConfigureAwait(false);
            return new LowerDirectories([served.MountPoint], CoversParents: true);
        }

        string layerDirectory = await EnsureUnpackedAsync(served, depth, cancellationToken).ConfigureAwait(false);
        return new LowerDirectories([layerDirectory], CoversParents: true);
    }

    /// <inheritdoc />
    public Task<LayerSource?> TryAdoptAsync(string name, string? parentName, string directory, CancellationToken cancellationToken)
        => Task.FromResult<LayerSource?>(null);

    /// <inheritdoc />
    public async Task ReleaseAsync(LayerSource source, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(source);
        var (image, manifest, _, _, chain) = Parse(source);
        string key = KeyOf(image, manifest);
        RemoteImage? served;
        lock (_lock)
        {
            if (!_images.TryGetValue(key, out served) || !served.Snapshots.Remove(chain))
            {
                return;
            }

            if (served.Snapshots.Count > 0)
            {
                WriteRecord(served);
                return;
            }

            served.Released = true;
            _images.Remove(key);
            _decisions.Remove(key);
        }

        await served.Gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await RemoveAsync(served).ConfigureAwait(false);
        }
        finally
        {
            served.Gate.Release();
        }

        LogReleased(served.Image, served.ManifestDigest);
    }

    /// <summary>Every image decided about: served ones (mounted or not), and the latest left to containerd.</summary>
    public IReadOnlyList<RemoteImageStatus> GetStatus()
    {
        lock (_lock)
        {
            var list = _images.Values.OrderBy(i => i.Id).Select(i => new RemoteImageStatus
            {
                Image = i.Image.ToString(),
                Manifest = i.ManifestDigest.ToString(),
                Strategy = i.Strategy,
                Source = i.Mounted?.Statistics.Source ?? i.Source,
                Reason = "served",
                Skipped = i.Skipped,
                DecidedAt = i.DecidedAt,
                TimeToReadyMilliseconds = i.TimeToReady.TotalMilliseconds,
                BytesFetched = i.Mounted?.Statistics.BytesFetched ?? 0,
                Snapshots = i.Snapshots.Count,
                Mounted = i.Mounted is not null,
            }).ToList();
            list.AddRange(_ordinary);
            return list;
        }
    }

    /// <summary>
    /// Unmounts every image (their records stay: a restarted daemon mounts them again on first use) — unless the process
    /// is handing its mounts over (<c>FuseHandover.Begin</c>): held mounts then stay for the next daemon to resume.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        RemoteImage[] images;
        lock (_lock)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            images = [.. _images.Values];
        }

        await _stopping.CancelAsync().ConfigureAwait(false);
        await _resuming.ConfigureAwait(false);
        foreach (var image in images)
        {
            if (image.Mounted is { } mounted)
            {
                image.Mounted = null;
                try
                {
                    await mounted.DisposeAsync().ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is IOException or InvalidOperationException)
                {
                    LogUnmountFailed(image.Image, ex);
                }
            }
        }

        _stopping.Dispose();
    }

    // One decision per manifest: a running or recent one is joined; an ordinary one is made again once it expires.
    private Task<Decision> DecideAsync(ImageReference image, Digest manifest)
    {
        lock (_lock)
        {
            string key = KeyOf(image, manifest);
            if (_decisions.TryGetValue(key, out var existing)
                && !(existing.IsCompletedSuccessfully && existing.Result.Served is null && existing.Result.Expires <= _time.GetUtcNow()))
            {
                return existing;
            }

            var decision = Task.Run(() => MakeDecisionAsync(image, manifest, _stopping.Token));
            _decisions[key] = decision;
            return decision;
        }
    }

    private async Task<Decision> MakeDecisionAsync(ImageReference image, Digest manifest, CancellationToken cancellationToken)
    {
        long started = _time.GetTimestamp();
        RemoteImageManifest layers;
        IImageStore store;
        try
        {
            store = _stores.GetStore(image);
            layers = await RemoteImageManifest.ReadAsync(store, image, manifest, _options.MaxLayers, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException and not OutOfMemoryException)
        {
            return LeaveToContainerd(image, manifest, "manifest-unreadable", $"cannot read manifest {manifest} of {image}: {ex.Message}", []);
        }

        RemoteImage served;
        lock (_lock)
        {
            int id = ++_lastId;
            served = new RemoteImage(id, Path.Combine(_directory, id.ToString(CultureInfo.InvariantCulture)), image, manifest, layers.ChainIds.Count)
            {
                Manifest = layers,
            };
        }

        PrivateDirectory.Create(served.Directory);
        Directory.CreateDirectory(served.MountPoint);
        IMountedImage mounted;
        try
        {
            mounted = await _accelerator.MountAsync(image, served.MountPoint, new MountOptions { ReadOnly = true }, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException and not OutOfMemoryException)
        {
            DeleteDirectory(served);
            // The facade throws InvalidOperationException when no strategy can serve the image; its message lists each one's reason.
            return ex is InvalidOperationException
                ? LeaveToContainerd(image, manifest, "not-accelerated", ex.Message, [])
                : LeaveToContainerd(image, manifest, "mount-failed", $"mounting failed: {ex.Message}", []);
        }

        var skipped = mounted.Statistics.Fallbacks.Select(f => new SkippedStrategy(f.Strategy.Name, f.Reason)).ToList();
        if (await VerifyAsync(store, image, manifest, mounted, cancellationToken).ConfigureAwait(false) is { } mismatch)
        {
            await mounted.DisposeAsync().ConfigureAwait(false);
            DeleteDirectory(served);
            return LeaveToContainerd(image, manifest, "not-verified", mismatch, skipped);
        }

        served.Mounted = mounted;
        served.Strategy = mounted.Statistics.Strategy.Name;
        served.Source = mounted.Statistics.Source;
        served.Skipped = skipped;
        served.DecidedAt = _time.GetUtcNow();
        served.TimeToReady = _time.GetElapsedTime(started);
        lock (_lock)
        {
            _images[KeyOf(image, manifest)] = served;
            WriteRecord(served);
        }

        _metrics.Decided(served.Strategy, "served", served.TimeToReady, served.Source);
        LogServed(image, manifest, DescribeStrategy(served.Strategy, served.Source), served.TimeToReady.TotalMilliseconds, Describe(skipped), served.MountPoint);
        return new Decision(served, DateTimeOffset.MaxValue);
    }

    // The mount must be the image containerd pulled: the manifest itself (a cache hit, or a converted reference pulled
    // directly), or a variant converted from it (AcceleratedVariant's rule: the source-digest annotation).
    private async Task<string?> VerifyAsync(IImageStore store, ImageReference image, Digest manifest, IMountedImage mounted, CancellationToken cancellationToken)
    {
        if (mounted.ManifestDigest == manifest)
        {
            return null;
        }

        try
        {
            var variant = await RemoteImageManifest.ReadAsync(store, image, mounted.ManifestDigest, _options.MaxLayers, cancellationToken).ConfigureAwait(false);
            return variant.SourceDigest == manifest.ToString()
                ? null
                : $"the {mounted.Statistics.Strategy.Name} mount is {mounted.ManifestDigest}, converted from {variant.SourceDigest ?? "an image it does not name"}, not from {manifest} (the tag moved on?)";
        }
        catch (Exception ex) when (ex is not OperationCanceledException and not OutOfMemoryException)
        {
            return $"cannot check that the mounted {mounted.ManifestDigest} was converted from {manifest}: {ex.Message}";
        }
    }

    private Decision LeaveToContainerd(ImageReference image, Digest manifest, string category, string reason, IReadOnlyList<SkippedStrategy> skipped)
    {
        var now = _time.GetUtcNow();
        lock (_lock)
        {
            _ordinary.AddFirst(new RemoteImageStatus
            {
                Image = image.ToString(),
                Manifest = manifest.ToString(),
                Strategy = Ordinary,
                Reason = reason,
                Skipped = skipped,
                DecidedAt = now,
            });
            while (_ordinary.Count > _options.MaxOrdinaryDecisionsKept)
            {
                _ordinary.RemoveLast();
            }
        }

        _metrics.Decided(Ordinary, category, null);
        LogOrdinary(image, manifest, category, reason);
        return new Decision(null, now + _options.OrdinaryDecisionLifetime);
    }

    private async Task EnsureMountedAsync(RemoteImage served, CancellationToken cancellationToken)
    {
        if (served.Mounted is not null)
        {
            return;
        }

        await served.Gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (served.Mounted is not null)
            {
                return;
            }

            ThrowIfReleased(served);
            long started = _time.GetTimestamp();
            if (!_held.Contains(served.MountPoint))
            {
                UnmountStale(served.MountPoint);
            }

            Directory.CreateDirectory(served.MountPoint);
            IImageStore store = _stores.GetStore(served.Image);
            IMountedImage mounted = await _accelerator.MountAsync(served.Image, served.MountPoint, new MountOptions { ReadOnly = true }, cancellationToken).ConfigureAwait(false);
            if (await VerifyAsync(store, served.Image, served.ManifestDigest, mounted, cancellationToken).ConfigureAwait(false) is { } mismatch)
            {
                await mounted.DisposeAsync().ConfigureAwait(false);
                throw new IOException($"{served.Image} cannot be mounted again for its snapshots: {mismatch}");
            }

            served.Mounted = mounted;
            served.Strategy = mounted.Statistics.Strategy.Name;
            served.Source = mounted.Statistics.Source;
            served.Skipped = [.. mounted.Statistics.Fallbacks.Select(f => new SkippedStrategy(f.Strategy.Name, f.Reason))];
            served.TimeToReady = _time.GetElapsedTime(started);
            LogRemounted(served.Image, served.ManifestDigest, DescribeStrategy(served.Strategy, served.Source), served.TimeToReady.TotalMilliseconds);
        }
        catch (InvalidOperationException ex)
        {
            throw new IOException($"{served.Image} cannot be mounted again for its snapshots: {ex.Message}", ex);
        }
        finally
        {
            served.Gate.Release();
        }
    }

    private async Task<string> EnsureUnpackedAsync(RemoteImage served, int depth, CancellationToken cancellationToken)
    {
        string target = served.LayerDirectory(depth);
        if (Directory.Exists(target))
        {
            return target;
        }

        await served.Gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (Directory.Exists(target))
            {
                return target;
            }

            ThrowIfReleased(served);
            IImageStore store = _stores.GetStore(served.Image);
            RemoteImageManifest image = served.Manifest ?? await ReadManifestAsync(served, cancellationToken).ConfigureAwait(false);
            RemoteImageManifest original = image;
            // A converted image pulled directly keeps its source's config but not its layers: unpack the source's.
            if (original.SourceDigest is { } source && Digest.TryParse(source, out var sourceDigest))
            {
                original = await RemoteImageManifest.ReadAsync(store, served.Image, sourceDigest, _options.MaxLayers, cancellationToken).ConfigureAwait(false);
            }

            if (!original.ChainIds.SequenceEqual(image.ChainIds) || original.Manifest.Layers.Count != original.ChainIds.Count)
            {
                throw new InvalidDataException($"the layers of {served.Image} ({original.ManifestDigest}) do not match its config's diff_ids");
            }

            long started = _time.GetTimestamp();
            await LayerPrefixUnpacker.UnpackAsync(
                store, served.Image, [.. original.Manifest.Layers.Take(depth + 1)], [.. original.DiffIds.Take(depth + 1)], target, cancellationToken).ConfigureAwait(false);
            LogUnpacked(served.Image, depth + 1, served.LayerCount, _time.GetElapsedTime(started).TotalMilliseconds);
            return target;
        }
        finally
        {
            served.Gate.Release();
        }
    }

    // The image a source names: known, or (records lost) known again from the source itself.
    private RemoteImage Find(ImageReference image, Digest manifest, int layerCount, string chain)
    {
        lock (_lock)
        {
            string key = KeyOf(image, manifest);
            if (_images.TryGetValue(key, out var served))
            {
                return served;
            }

            int id = ++_lastId;
            served = new RemoteImage(id, Path.Combine(_directory, id.ToString(CultureInfo.InvariantCulture)), image, manifest, layerCount)
            {
                DecidedAt = _time.GetUtcNow(),
            };
            served.Snapshots.Add(chain);
            PrivateDirectory.Create(served.Directory);
            _images[key] = served;
            _decisions[key] = Task.FromResult(new Decision(served, DateTimeOffset.MaxValue));
            WriteRecord(served);
            return served;
        }
    }

    // The parent is the chain below: a remote snapshot is named by its chain ID; one containerd unpacked and committed
    // through its metadata store is named NAMESPACE/ID/CHAINID in the snapshotter (containerd 1.6 metadata/snapshot.go).
    private static bool IsParent(string? parent, string? expected)
        => expected is null
            ? string.IsNullOrEmpty(parent)
            : parent is not null && (parent == expected || parent.EndsWith("/" + expected, StringComparison.Ordinal));

    // After a restart the manifest is read again when first needed (by digest: the same bytes as before).
    private async Task<RemoteImageManifest> ReadManifestAsync(RemoteImage served, CancellationToken cancellationToken)
    {
        var manifest = await RemoteImageManifest.ReadAsync(
            _stores.GetStore(served.Image), served.Image, served.ManifestDigest, _options.MaxLayers, cancellationToken).ConfigureAwait(false);
        served.Manifest = manifest;
        return manifest;
    }

    private static void ThrowIfReleased(RemoteImage served)
    {
        if (served.Released)
        {
            throw new InvalidOperationException($"{served.Image}'s snapshots were removed.");
        }
    }

    private static LayerSource SourceOf(RemoteImage served, int depth, string chain) => new(ProviderName, new Dictionary<string, string>(StringComparer.Ordinal)
    {
        [ImageProperty] = served.Image.ToString(),
        [ManifestProperty] = served.ManifestDigest.ToString(),
        [DepthProperty] = depth.ToString(CultureInfo.InvariantCulture),
        [LayersProperty] = served.LayerCount.ToString(CultureInfo.InvariantCulture),
        [ChainProperty] = chain,
    });

    private static (ImageReference Image, Digest Manifest, int Depth, int Layers, string Chain) Parse(LayerSource source)
    {
        var p = source.Properties;
        if (source.Provider != ProviderName
            || !p.TryGetValue(ImageProperty, out string? imageText) || !ImageReference.TryParse(imageText, out var image)
            || !p.TryGetValue(ManifestProperty, out string? manifestText) || !Digest.TryParse(manifestText, out var manifest)
            || !p.TryGetValue(DepthProperty, out string? depthText) || !int.TryParse(depthText, NumberStyles.None, CultureInfo.InvariantCulture, out int depth)
            || !p.TryGetValue(LayersProperty, out string? layersText) || !int.TryParse(layersText, NumberStyles.None, CultureInfo.InvariantCulture, out int layers)
            || depth >= layers
            || !p.TryGetValue(ChainProperty, out string? chain) || !Digest.TryParse(chain, out _))
        {
            throw new InvalidDataException("The layer source is not a remote snapshot's (image, manifest, depth, layers, chain).");
        }

        return (image, manifest, depth, layers, chain);
    }

    private void WriteRecord(RemoteImage served)
    {
        var record = new RemoteImageRecord
        {
            Image = served.Image.ToString(),
            Manifest = served.ManifestDigest.ToString(),
            Layers = served.LayerCount,
            Strategy = served.Strategy,
            DecidedAt = served.DecidedAt,
            Snapshots = [.. served.Snapshots.Order(StringComparer.Ordinal)],
        };
        DurableFile.WriteAtomic(served.RecordPath, JsonSerializer.SerializeToUtf8Bytes(record, RemoteSnapshotsJsonContext.Default.RemoteImageRecord));
    }

    // Images served before a restart: records with snapshots are kept (mounted again on first use); the rest, and
    // anything left mounted by the previous process (a FUSE mount whose server is gone), are cleaned away.
    private void Load()
    {
        var mounts = MountTable.Read();
        foreach (string directory in Directory.EnumerateDirectories(_directory))
        {
            if (!int.TryParse(Path.GetFileName(directory), NumberStyles.None, CultureInfo.InvariantCulture, out int id))
            {
                continue;
            }

            _lastId = Math.Max(_lastId, id);
            string held = Path.Combine(directory, "mnt");
            bool isHeld = _held.Contains(held);
            foreach (string mountPoint in MountTable.MountPointsUnder(mounts, directory))
            {
                if (!(isHeld && (mountPoint == held || mountPoint.StartsWith(held + "/", StringComparison.Ordinal))))
                {
                    FileSystemMount.Unmount(mountPoint);
                }
            }

            RemoteImageRecord? record = null;
            try
            {
                record = JsonSerializer.Deserialize(File.ReadAllBytes(Path.Combine(directory, "image.json")), RemoteSnapshotsJsonContext.Default.RemoteImageRecord);
            }
            catch (Exception ex) when (ex is IOException or JsonException)
            {
                LogRecordUnreadable(directory, ex.Message);
            }

            if (record is null || record.Snapshots.Count == 0
                || !ImageReference.TryParse(record.Image, out var image) || !Digest.TryParse(record.Manifest, out var manifest)
                || _images.ContainsKey(KeyOf(image, manifest)))
            {
                if (isHeld)
                {
                    // Never delete through a live mount; the stale-state sweep removes it once it is not held.
                    LogHeldWithoutSnapshots(directory);
                    continue;
                }

                Directory.Delete(directory, recursive: true);
                continue;
            }

            var served = new RemoteImage(id, directory, image, manifest, record.Layers)
            {
                Strategy = record.Strategy,
                DecidedAt = record.DecidedAt,
            };
            served.Snapshots.UnionWith(record.Snapshots);
            _images[KeyOf(image, manifest)] = served;
            _decisions[KeyOf(image, manifest)] = Task.FromResult(new Decision(served, DateTimeOffset.MaxValue));
        }
    }

    // The images whose mount a holder kept across the restart: taken over now, so the reads their containers issued
    // while no process served them are answered at once, not at the next Prepare.
    private async Task ResumeHeldAsync(CancellationToken cancellationToken)
    {
        await Task.Yield();
        RemoteImage[] held;
        lock (_lock)
        {
            held = [.. _images.Values.Where(i => _held.Contains(i.MountPoint)).OrderBy(i => i.Id)];
        }

        foreach (var served in held)
        {
            try
            {
                await EnsureMountedAsync(served, cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                LogResumeFailed(served.Image, served.MountPoint, ex);
            }
        }
    }

    // One decision per image: its manifest in its repository (the same manifest pushed to another repository has other
    // variants beside it, or none).
    private static string KeyOf(ImageReference image, Digest manifest) => image.Name + "@" + manifest;

    private async Task RemoveAsync(RemoteImage served)
    {
        if (served.Mounted is { } mounted)
        {
            served.Mounted = null;
            await mounted.DisposeAsync().ConfigureAwait(false);
        }

        DeleteDirectory(served);
    }

    private static void UnmountStale(string mountPoint)
    {
        foreach (string stale in MountTable.MountPointsUnder(MountTable.Read(), mountPoint))
        {
            FileSystemMount.Unmount(stale);
        }
    }

    private void DeleteDirectory(RemoteImage served)
    {
        try
        {
            UnmountStale(served.Directory);
            if (Directory.Exists(served.Directory))
            {
                Directory.Delete(served.Directory, recursive: true);
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            LogRemoveFailed(served.Directory, ex.Message);
        }
    }

    /// <summary>A strategy with what it mounted, as logs and <c>accel snapshotter status</c> show it: <c>lazy (seekable)</c>.</summary>
    public static string DescribeStrategy(string strategy, string? source)
        => string.IsNullOrEmpty(source) ? strategy : $"{strategy} ({source})";

    private static string Describe(IReadOnlyList<SkippedStrategy> skipped)
        => skipped.Count == 0 ? "none" : string.Join("; ", skipped.Select(s => $"{s.Strategy}: {s.Reason}"));

    // Served is null when containerd downloads the image; an ordinary decision is made again after Expires.
    private sealed record Decision(RemoteImage? Served, DateTimeOffset Expires);
}

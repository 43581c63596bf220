using Accelerator.Linux;
using Accelerator.Snapshotter.Filters;
using Accelerator.Snapshotter.Layers;
using Accelerator.Snapshotter.Metadata;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Accelerator.Snapshotter.Overlay;

/// <summary>
/// containerd's snapshotter semantics over overlayfs, with the same on-disk shape and mounts as containerd's own
/// overlay snapshotter (<c>snapshots/overlay</c>), plus committed layers that <see cref="ILayerProvider"/>s serve without
/// a download. Every operation either happens whole or is refused with a <see cref="SnapshotException"/> that changes
/// nothing. One instance per root (the metadata is locked for the process).
/// </summary>
/// <remarks>
/// Operations are serialized by one gate; the slow parts that need no consistent view (asking providers for a layer,
/// resolving a provider's lower directories, measuring an active snapshot) run outside it, and the gate re-checks what
/// they decided on.
/// </remarks>
public sealed partial class OverlaySnapshotter : IDisposable
{
    private static readonly bool OverlaySupportsIndex = Path.Exists("/sys/module/overlay/parameters/index");

    private readonly MetadataStore _metadata;
    private readonly IReadOnlyList<ILayerProvider> _providers;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly SemaphoreSlim _gate = new(1, 1);

    private OverlaySnapshotter(MetadataStore metadata, IReadOnlyList<ILayerProvider> providers, TimeProvider time, ILogger logger)
    {
        _metadata = metadata;
        _providers = providers;
        _time = time;
        _logger = logger;
    }

    /// <summary>The root directory (<c>ROOT/snapshots</c>, <c>ROOT/metadata</c>).</summary>
    public string Root => _metadata.Root;

    /// <summary>
    /// Opens the snapshotter on <paramref name="root"/> (created 0700), locking it for this process and repairing what a
    /// crash left; <paramref name="providers"/> are asked in their <see cref="ILayerProvider.Order"/>.
    /// </summary>
    /// <exception cref="IOException">Another snapshotter runs on <paramref name="root"/>.</exception>
    public static OverlaySnapshotter Open(string root, IEnumerable<ILayerProvider>? providers = null, TimeProvider? time = null, ILoggerFactory? loggerFactory = null)
    {
        var metadata = MetadataStore.Open(root, loggerFactory?.CreateLogger<MetadataStore>());
        var ordered = (providers ?? []).OrderBy(p => p.Order).ToList();
        return new OverlaySnapshotter(metadata, ordered, time ?? TimeProvider.System, loggerFactory?.CreateLogger<OverlaySnapshotter>() ?? NullLogger<OverlaySnapshotter>.Instance);
    }

    /// <summary>Creates the active snapshot <paramref name="key"/> on <paramref name="parent"/> and returns its mounts.</summary>
    /// <exception cref="SnapshotException">
    /// AlreadyExists when the key is taken or a provider serves the layer named by <c>containerd.io/snapshot.ref</c>
    /// (then a committed snapshot of that name exists); NotFound/FailedPrecondition for a missing or uncommitted parent;
    /// InvalidArgument for bad input.
    /// </exception>
    public Task<IReadOnlyList<SnapshotMount>> PrepareAsync(string key, string? parent, IReadOnlyDictionary<string, string> labels, CancellationToken cancellationToken)
        => CreateAsync(SnapshotKind.Active, key, parent, labels, cancellationToken);

    /// <summary>Creates the read-only view <paramref name="key"/> of <paramref name="parent"/> and returns its mounts.</summary>
    /// <exception cref="SnapshotException">As <see cref="PrepareAsync"/>.</exception>
    public Task<IReadOnlyList<SnapshotMount>> ViewAsync(string key, string? parent, IReadOnlyDictionary<string, string> labels, CancellationToken cancellationToken)
        => CreateAsync(SnapshotKind.View, key, parent, labels, cancellationToken);

    /// <summary>The mounts of the active snapshot or view <paramref name="key"/> (of a committed one too, read-only, as containerd answers).</summary>
    /// <exception cref="SnapshotException">NotFound.</exception>
    public async Task<IReadOnlyList<SnapshotMount>> MountsAsync(string key, CancellationToken cancellationToken)
    {
        SnapshotLabels.ValidateKey(key, "key");
        SnapshotRecord record;
        List<SnapshotRecord> parents;
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            record = Get(key);
            parents = ParentsOf(record);
        }
        finally
        {
            _gate.Release();
        }

        return await BuildMountsAsync(record, parents, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Commits the active snapshot <paramref name="key"/> as <paramref name="name"/> with <paramref name="labels"/>; the key
    /// goes away. A name that is a chain ID is offered to the providers (<see cref="ILayerProvider.TryAdoptAsync"/>).
    /// </summary>
    /// <exception cref="SnapshotException">NotFound (key), FailedPrecondition (not active), AlreadyExists (name), InvalidArgument.</exception>
    public async Task CommitAsync(string name, string key, IReadOnlyDictionary<string, string> labels, CancellationToken cancellationToken)
    {
        SnapshotLabels.ValidateKey(name, "name");
        SnapshotLabels.ValidateKey(key, "key");
        SnapshotLabels.Validate(labels);
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var active = Get(key);
            if (active.Kind != SnapshotKind.Active)
            {
                throw SnapshotException.FailedPrecondition($"snapshot {SnapshotLabels.Shorten(key)} is a {Describe(active.Kind)}, not active: only active snapshots can be committed");
            }

            if (_metadata.TryGet(name, out _))
            {
                throw SnapshotException.AlreadyExists($"snapshot {SnapshotLabels.Shorten(name)} already exists");
            }

            string fs = _metadata.FsOf(active.Id);
            var usage = DiskUsage.Measure(fs);
            // The layer's files must be on disk before a record says the layer is committed.
            DurableFile.SyncFileSystem(fs);
            var now = _time.GetUtcNow();
            var committed = active with { Name = name, Kind = SnapshotKind.Committed, Labels = Copy(labels), Created = now, Updated = now, Usage = usage };
            _metadata.Put(committed);
            LogCommitted(_logger, key, name, active.Id);
            if (SnapshotLabels.IsChainId(name) && _providers.Count > 0)
            {
                await OfferAsync(committed, fs, cancellationToken).ConfigureAwait(false);
            }
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Removes the snapshot <paramref name="key"/> (and its directory); a provider-backed one is released when it was the last.</summary>
    /// <exception cref="SnapshotException">NotFound, or FailedPrecondition while it has children.</exception>
    public async Task RemoveAsync(string key, CancellationToken cancellationToken)
    {
        SnapshotLabels.ValidateKey(key, "key");
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var record = Get(key);
            if (_metadata.HasChildren(key))
            {
                throw SnapshotException.FailedPrecondition($"cannot remove snapshot {SnapshotLabels.Shorten(key)}: it has children");
            }

            _metadata.Delete(record);
            LogRemoved(_logger, key, record.Id);
            if (record.Source is { } source && !_metadata.Records.Any(r => SameSource(r.Source, source)) && FindProvider(source) is { } provider)
            {
                try
                {
                    await provider.ReleaseAsync(source, cancellationToken).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    LogProviderFailed(_logger, provider.Name, "release", key, ex);
                }
            }
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>The snapshot <paramref name="key"/> (a key or a committed name).</summary>
    /// <exception cref="SnapshotException">NotFound.</exception>
    public async Task<SnapshotRecord> StatAsync(string key, CancellationToken cancellationToken)
    {
        SnapshotLabels.ValidateKey(key, "key");
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            return Get(key);
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>
    /// Changes the labels of <paramref name="name"/>: <paramref name="fieldPaths"/> <c>labels</c> replaces them all with
    /// <paramref name="labels"/>, <c>labels.KEY</c> sets (or, absent or empty in <paramref name="labels"/>, removes) one;
    /// no paths replaces every mutable field (the labels). Any other path is InvalidArgument.
    /// </summary>
    /// <exception cref="SnapshotException">NotFound, InvalidArgument.</exception>
    public async Task<SnapshotRecord> UpdateAsync(string name, IReadOnlyDictionary<string, string> labels, IReadOnlyList<string> fieldPaths, CancellationToken cancellationToken)
    {
        SnapshotLabels.ValidateKey(name, "name");
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var record = Get(name);
            var updated = fieldPaths.Count == 0 ? Copy(labels) : new Dictionary<string, string>(record.Labels, StringComparer.Ordinal);
            foreach (string path in fieldPaths)
            {
                if (path == "labels")
                {
                    updated = Copy(labels);
                }
                else if (path.StartsWith("labels.", StringComparison.Ordinal) && path.Length > "labels.".Length)
                {
                    string key = path["labels.".Length..];
                    if (labels.TryGetValue(key, out string? value) && value.Length > 0)
                    {
                        updated[key] = value;
                    }
                    else
                    {
                        updated.Remove(key);
                    }
                }
                else
                {
                    throw SnapshotException.InvalidArgument($"cannot update {SnapshotLabels.Shorten(path)} field on snapshot {SnapshotLabels.Shorten(name)}: only labels are mutable");
                }
            }

            SnapshotLabels.Validate(updated);
            var result = record with { Labels = updated, Updated = _time.GetUtcNow() };
            _metadata.Put(result);
            return result;
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>The snapshots <paramref name="filter"/> matches, ordered by name.</summary>
    public async Task<IReadOnlyList<SnapshotRecord>> ListAsync(SnapshotFilter filter, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(filter);
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            return _metadata.Records.Where(filter.Matches).OrderBy(r => r.Name, StringComparer.Ordinal).ToList();
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>
    /// The disk the snapshot's own directory uses: measured now for an active snapshot or a view, as measured at commit
    /// for a committed one (zero for a provider-backed one, whose data the provider accounts for).
    /// </summary>
    /// <exception cref="SnapshotException">NotFound.</exception>
    public async Task<SnapshotUsage> UsageAsync(string key, CancellationToken cancellationToken)
    {
        SnapshotLabels.ValidateKey(key, "key");
        SnapshotRecord record;
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            record = Get(key);
        }
        finally
        {
            _gate.Release();
        }

        if (record.Kind == SnapshotKind.Committed || !record.HasDirectory)
        {
            return record.Usage ?? default;
        }

        try
        {
            return DiskUsage.Measure(_metadata.FsOf(record.Id));
        }
        catch (DirectoryNotFoundException)
        {
            throw SnapshotException.NotFound($"snapshot {SnapshotLabels.Shorten(key)} does not exist");
        }
    }

    /// <summary>Removes the directories no snapshot refers to (left by a crash); returns how many.</summary>
    public async Task<int> CleanupAsync(CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            return _metadata.RemoveOrphanDirectories();
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Releases the root's lock (mounts containerd made stay).</summary>
    public void Dispose()
    {
        _metadata.Dispose();
        _gate.Dispose();
    }

    private async Task<IReadOnlyList<SnapshotMount>> CreateAsync(SnapshotKind kind, string key, string? parent, IReadOnlyDictionary<string, string> labels, CancellationToken cancellationToken)
    {
        SnapshotLabels.ValidateKey(key, "key");
        parent = string.IsNullOrEmpty(parent) ? null : parent;
        if (parent is not null)
        {
            SnapshotLabels.ValidateKey(parent, "parent");
        }

        SnapshotLabels.Validate(labels);
        var ownLabels = Copy(labels);
        string? chainId = ownLabels.TryGetValue(SnapshotLabels.TargetReference, out string? target) && SnapshotLabels.IsChainId(target) ? target : null;

        LayerSource? parentSource;
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            parentSource = CheckCreate(key, parent, chainId)?.Source;
        }
        finally
        {
            _gate.Release();
        }

        if (chainId is not null && _providers.Count > 0
            && await AskProvidersAsync(new LayerRequest(key, parent, parentSource, chainId, ownLabels), cancellationToken).ConfigureAwait(false) is var (provider, source))
        {
            await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                CheckCreate(key, parent, chainId);
                var now = _time.GetUtcNow();
                _metadata.Put(new SnapshotRecord(_metadata.AllocateId(), chainId, parent, SnapshotKind.Committed, ownLabels, now, now, source));
            }
            finally
            {
                _gate.Release();
            }

            LogProvided(_logger, chainId, provider.Name, key);
            // What containerd's unpacker expects from a remote snapshotter: the layer is there, skip it.
            throw SnapshotException.AlreadyExists($"target snapshot {chainId} already exists (provided by {provider.Name})");
        }

        SnapshotRecord record;
        List<SnapshotRecord> parents;
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var parentRecord = CheckCreate(key, parent, chainId);
            long id = _metadata.AllocateId();
            FileStatus? parentOwner = parentRecord is { HasDirectory: true } ? LibC.Lstat(LibC.AT_FDCWD, _metadata.FsOf(parentRecord.Id)) : null;
            _metadata.CreateDirectory(id, kind == SnapshotKind.Active, parentOwner?.Uid, parentOwner?.Gid);
            var now = _time.GetUtcNow();
            record = new SnapshotRecord(id, key, parent, kind, ownLabels, now, now);
            try
            {
                _metadata.Put(record);
            }
            catch
            {
                Directory.Delete(_metadata.DirectoryOf(id), recursive: true);
                throw;
            }

            parents = ParentsOf(record);
        }
        finally
        {
            _gate.Release();
        }

        LogCreated(_logger, Describe(kind), key, parent ?? "", record.Id);
        return await BuildMountsAsync(record, parents, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Refuses a create that cannot be done now; returns the parent's record.</summary>
    private SnapshotRecord? CheckCreate(string key, string? parent, string? chainId)
    {
        if (_metadata.TryGet(key, out _))
        {
            throw SnapshotException.AlreadyExists($"snapshot {SnapshotLabels.Shorten(key)} already exists");
        }

        SnapshotRecord? parentRecord = null;
        if (parent is not null)
        {
            if (!_metadata.TryGet(parent, out parentRecord))
            {
                throw SnapshotException.NotFound($"parent snapshot {SnapshotLabels.Shorten(parent)} does not exist");
            }

            if (parentRecord.Kind != SnapshotKind.Committed)
            {
                throw SnapshotException.FailedPrecondition($"parent {SnapshotLabels.Shorten(parent)} is a {Describe(parentRecord.Kind)} snapshot, not a committed one");
            }
        }

        if (chainId is not null && _metadata.TryGet(chainId, out var existing) && existing.Kind == SnapshotKind.Committed)
        {
            throw SnapshotException.AlreadyExists($"target snapshot {chainId} already exists");
        }

        return parentRecord;
    }

    private async Task<(ILayerProvider Provider, LayerSource Source)?> AskProvidersAsync(LayerRequest request, CancellationToken cancellationToken)
    {
        foreach (var provider in _providers)
        {
            try
            {
                if (await provider.TryProvideAsync(request, cancellationToken).ConfigureAwait(false) is { } source)
                {
                    return (provider, source);
                }
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                // A provider that fails lets containerd unpack the layer itself: slower, never broken.
                LogProviderFailed(_logger, provider.Name, "provide", request.Key, ex);
            }
        }

        return null;
    }

    private async Task OfferAsync(SnapshotRecord committed, string fs, CancellationToken cancellationToken)
    {
        foreach (var provider in _providers)
        {
            LayerSource? source;
            try
            {
                source = await provider.TryAdoptAsync(committed.Name, committed.Parent, fs, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                LogProviderFailed(_logger, provider.Name, "adopt", committed.Name, ex);
                continue;
            }

            if (source is not null)
            {
                // The provider moved the tree: the record names its source, and what is left of the directory goes.
                _metadata.Put(committed with { Source = source });
                try
                {
                    Directory.Delete(_metadata.DirectoryOf(committed.Id), recursive: true);
                }
                catch (DirectoryNotFoundException)
                {
                }

                LogAdopted(_logger, committed.Name, provider.Name);
                return;
            }
        }
    }

    private SnapshotRecord Get(string key)
        => _metadata.TryGet(key, out var record) ? record : throw SnapshotException.NotFound($"snapshot {SnapshotLabels.Shorten(key)} does not exist");

    /// <summary>The committed parents of <paramref name="record"/>, nearest first.</summary>
    private List<SnapshotRecord> ParentsOf(SnapshotRecord record)
    {
        var parents = new List<SnapshotRecord>();
        for (string? parent = record.Parent; parent is not null;)
        {
            if (!_metadata.TryGet(parent, out var next) || parents.Count > _metadata.Records.Count)
            {
                throw SnapshotException.NotFound($"parent snapshot {SnapshotLabels.Shorten(parent)} of {SnapshotLabels.Shorten(record.Name)} does not exist");
            }

            parents.Add(next);
            parent = next.Parent;
        }

        return parents;
    }

    private async Task<IReadOnlyList<SnapshotMount>> BuildMountsAsync(SnapshotRecord record, List<SnapshotRecord> parents, CancellationToken cancellationToken)
    {
        var lower = new List<string>();
        if (record.Kind == SnapshotKind.Committed)
        {
            // containerd answers a committed snapshot's mounts too: read-only, its own tree over its parents'.
            parents.Insert(0, record);
        }

        foreach (var parent in parents)
        {
            if (parent.Source is not { } source)
            {
                lower.Add(_metadata.FsOf(parent.Id));
                continue;
            }

            var provider = FindProvider(source)
                ?? throw SnapshotException.FailedPrecondition($"snapshot {SnapshotLabels.Shorten(parent.Name)} is served by the layer provider '{source.Provider}', which is not registered");
            var directories = await provider.ResolveLowerAsync(source, cancellationToken).ConfigureAwait(false);
            lower.AddRange(directories.Directories);
            if (directories.CoversParents)
            {
                break;
            }
        }

        return record.Kind switch
        {
            SnapshotKind.Active => ActiveMounts(record, lower),
            _ => ReadOnlyMounts(record, lower),
        };
    }

    // The forms containerd 1.6's overlay snapshotter returns (snapshots/overlay/overlay.go, mounts()), so that
    // containerd and runc treat our snapshots exactly like its own.
    private List<SnapshotMount> ActiveMounts(SnapshotRecord record, List<string> lower)
    {
        if (lower.Count == 0)
        {
            return [new SnapshotMount("bind", _metadata.FsOf(record.Id), ["rw", "rbind"])];
        }

        var options = OverlayBaseOptions();
        options.Add("workdir=" + _metadata.WorkOf(record.Id));
        options.Add("upperdir=" + _metadata.FsOf(record.Id));
        options.Add("lowerdir=" + string.Join(':', lower));
        return [new SnapshotMount("overlay", "overlay", options)];
    }

    private List<SnapshotMount> ReadOnlyMounts(SnapshotRecord record, List<string> lower)
    {
        switch (lower.Count)
        {
            case 0:
                return [new SnapshotMount("bind", _metadata.FsOf(record.Id), ["ro", "rbind"])];
            case 1:
                return [new SnapshotMount("bind", lower[0], ["ro", "rbind"])];
            default:
                var options = OverlayBaseOptions();
                options.Add("lowerdir=" + string.Join(':', lower));
                return [new SnapshotMount("overlay", "overlay", options)];
        }
    }

    private static List<string> OverlayBaseOptions() => OverlaySupportsIndex ? ["index=off"] : [];

    private ILayerProvider? FindProvider(LayerSource source) => _providers.FirstOrDefault(p => string.Equals(p.Name, source.Provider, StringComparison.Ordinal));

    private static bool SameSource(LayerSource? a, LayerSource b)
        => a is not null && string.Equals(a.Provider, b.Provider, StringComparison.Ordinal) && a.Properties.Count == b.Properties.Count
           && a.Properties.All(p => b.Properties.TryGetValue(p.Key, out string? value) && string.Equals(value, p.Value, StringComparison.Ordinal));

    private static Dictionary<string, string> Copy(IReadOnlyDictionary<string, string> labels) => new(labels, StringComparer.Ordinal);

    private static string Describe(SnapshotKind kind) => kind switch
    {
        SnapshotKind.Active => "active",
        SnapshotKind.Committed => "committed",
        _ => "view",
    };
}

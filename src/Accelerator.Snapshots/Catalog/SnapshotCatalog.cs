using Accelerator.Linux;
using System.Text.Json;
using Accelerator.Oci.Model;
using Accelerator.Oci.Resolution;
using Accelerator.Snapshots.Storage;
using Microsoft.Extensions.Logging;

namespace Accelerator.Snapshots.Catalog;

/// <summary>
/// The store's records on disk and what reading them answers: where layers, snapshots, clones and warms live, which
/// of them are valid (<see cref="TryLoadLayer"/>, <see cref="TryLoadImage"/>), listing and matching, the locks that
/// order publishing, eviction and clone registration across processes, staging directories, and the publish and
/// delete steps every writer shares. The other parts of the store (warmers, cloner, archiver, evictor) read and
/// write the store only through it.
/// </summary>
/// <remarks>
/// Layout under the root: <c>layers/HEX/{fs,layer.json}</c> (HEX: the chain ID's hex digest; a block layer:
/// <c>layers/HEX/{disk,index,layer.json}</c>, HEX: the block index digest's), <c>images/HEX.json</c> (HEX: the manifest
/// digest's), <c>mounts/ID/{upper,work,mount.json}</c>, <c>staging/ID/</c> (warms in progress, each holding a lock),
/// <c>locks/</c>, <c>trash/</c>.
/// </remarks>
internal sealed partial class SnapshotCatalog
{
    /// <summary>A block layer's disk file.</summary>
    public const string BlockDiskFile = "disk";

    /// <summary>A block layer's index file.</summary>
    public const string BlockIndexFile = "index";

    private readonly ILogger _logger;

    public SnapshotCatalog(SnapshotStoreOptions options, ILogger logger, TimeProvider time)
    {
        Options = options;
        _logger = logger;
        Time = time;
        Root = Path.GetFullPath(options.Root);
    }

    /// <summary>The store's directory.</summary>
    public string Root { get; }

    public SnapshotStoreOptions Options { get; }

    public TimeProvider Time { get; }

    public string LayersDirectory => Path.Combine(Root, "layers");

    public string ImagesDirectory => Path.Combine(Root, "images");

    public string MountsDirectory => Path.Combine(Root, "mounts");

    public string StagingDirectory => Path.Combine(Root, "staging");

    public string LocksDirectory => Path.Combine(Root, "locks");

    public string TrashDirectory => Path.Combine(Root, "trash");

    /// <summary>Where pins live: <c>pins/HEX/NAME</c>, one empty file per pin of the layer HEX.</summary>
    public string PinsDirectory => Path.Combine(Root, "pins");

    public string StoreLockPath => Path.Combine(LocksDirectory, "store.lock");

    /// <summary>Creates the store's directories; only its owner may enter the root.</summary>
    public void Create()
    {
        // The store holds unpacked images (set-user-ID files, devices) and the upper directories of live clones: only
        // its owner may enter it (containerd's answer to CVE-2021-41103 for its snapshotters is the same).
        PrivateDirectory.Create(Options.Root);
        foreach (string directory in new[] { LayersDirectory, ImagesDirectory, MountsDirectory, StagingDirectory, LocksDirectory, TrashDirectory, PinsDirectory })
        {
            Directory.CreateDirectory(directory);
        }
    }

    /// <summary>The snapshots in the store, most recently used first.</summary>
    public IReadOnlyList<SnapshotInfo> List()
    {
        var mounts = LiveMounts();
        return ImageRecords()
            .Select(r => Describe(r, mounts))
            .OrderByDescending(s => s.LastUsed)
            .ToList();
    }

    /// <summary>The snapshot of <paramref name="manifestDigest"/>, or null.</summary>
    public SnapshotInfo? Find(Digest manifestDigest)
        => TryLoadImage(manifestDigest) is { } record ? Describe(record, LiveMounts()) : null;

    /// <summary>The snapshots warmed under <paramref name="image"/>, or of the manifest or index its digest names.</summary>
    public IReadOnlyList<SnapshotInfo> FindByReference(ImageReference image)
    {
        string text = image.ToString();
        var mounts = LiveMounts();
        return ImageRecords()
            .Where(r => r.References.Contains(text, StringComparer.Ordinal)
                || (image.Digest is { } d && (r.ManifestDigest == d.ToString() || r.References.Any(x => x.EndsWith("@" + d, StringComparison.Ordinal)))))
            .Select(r => Describe(r, mounts))
            .ToList();
    }

    /// <summary>How the store matches <paramref name="key"/>; <paramref name="warmingHere"/>: a warm of it runs in this process.</summary>
    public SnapshotMatch Match(ImageKey key, bool warmingHere)
    {
        Digest digest = key.ManifestDigest;
        int total = key.ChainIds.Count;
        if (TryLoadImage(digest) is not null)
        {
            return new SnapshotMatch(SnapshotMatchKind.Exact, digest, total, total);
        }

        int shared = SharedPrefix(key.ChainIds);
        if (warmingHere || FileLock.IsHeld(ImageLockPath(digest)))
        {
            return new SnapshotMatch(SnapshotMatchKind.Warming, digest, shared, total);
        }

        return new SnapshotMatch(shared > 0 ? SnapshotMatchKind.Prefix : SnapshotMatchKind.None, digest, shared, total);
    }

    /// <summary>How many of the lowest layers of a chain are published tree layers.</summary>
    public int SharedPrefix(IReadOnlyList<Digest> chainIds)
    {
        int shared = 0;
        while (shared < chainIds.Count && TryLoadLayer(chainIds[shared]) is { Kind: LayerKinds.Tree })
        {
            shared++;
        }

        return shared;
    }

    public static async Task<ImageKey> ResolveAsync(IImageStore store, ImageReference image, Platform? platform, CancellationToken cancellationToken)
    {
        var resolved = await ImageResolver.ResolveAsync(store, image, platform, cancellationToken).ConfigureAwait(false);
        foreach (var layer in resolved.Layers)
        {
            if (!MediaTypes.IsLayer(layer.MediaType))
            {
                throw new NotSupportedException($"Layer {layer.Digest} of {image} has media type '{layer.MediaType}', which is not a tar layer; it cannot be snapshotted.");
            }
        }

        var diffIds = resolved.Config.Rootfs?.DiffIds;
        if (diffIds is null || diffIds.Count != resolved.Layers.Count)
        {
            throw new NotSupportedException($"The config of {image} lists no diff IDs for its layers; snapshots are keyed by them.");
        }

        return new ImageKey(image, resolved, diffIds, ChainId.Compute(diffIds));
    }

    public SnapshotInfo Describe(ImageRecord record, MountState mounts)
    {
        Digest digest = Digest.Parse(record.ManifestDigest);
        var chain = record.ChainIds.Select(Digest.Parse).ToArray();
        long size = chain.Sum(c => TryLoadLayer(c)?.SizeBytes ?? 0);
        return new SnapshotInfo(digest, record.References, chain, size, record.Created, LastUsed(digest), mounts.Digests.Contains(record.ManifestDigest))
        {
            Kind = SnapshotKinds.Parse(record.Kind),
        };
    }

    /// <summary><see cref="Describe(ImageRecord, MountState)"/> with the clones mounted now.</summary>
    public SnapshotInfo Describe(ImageRecord record) => Describe(record, LiveMounts());

    public string LayerPath(Digest chainId) => Path.Combine(LayersDirectory, chainId.Encoded);

    public string LayerTree(Digest chainId) => Path.Combine(LayerPath(chainId), "fs");

    public string ImagePath(Digest manifestDigest) => Path.Combine(ImagesDirectory, manifestDigest.Encoded + ".json");

    public string ImageLockPath(Digest manifestDigest) => Path.Combine(LocksDirectory, "image-" + manifestDigest.Encoded + ".lock");

    public string LayerLockPath(Digest chainId) => Path.Combine(LocksDirectory, "layer-" + chainId.Encoded + ".lock");

    /// <summary>The published layer <paramref name="chainId"/> when its metadata is valid; else null.</summary>
    public LayerRecord? TryLoadLayer(Digest chainId)
    {
        string directory = LayerPath(chainId);
        var record = RecordJson.TryRead(Path.Combine(directory, "layer.json"), RecordJson.Default.LayerRecord);
        bool complete = record?.Kind switch
        {
            LayerKinds.Tree => Directory.Exists(Path.Combine(directory, "fs")),
            LayerKinds.Block => File.Exists(Path.Combine(directory, BlockDiskFile)) && File.Exists(Path.Combine(directory, BlockIndexFile)),
            _ => false,
        };
        // Only an adopted layer may lack a diff ID: a record the store built names the one its content was verified against.
        bool described = record is not null && record.Origin switch
        {
            null or LayerOrigins.Built => record.DiffId is { } diffId && Digest.TryParse(diffId, out _),
            LayerOrigins.Adopted => record.Kind == LayerKinds.Tree && (record.DiffId is null || Digest.TryParse(record.DiffId, out _)),
            _ => false,
        };
        return complete && described && record!.ChainId == chainId.ToString() ? record : null;
    }

    /// <summary>The published snapshot of <paramref name="manifestDigest"/> when its record and all its layers are valid; else null.</summary>
    public ImageRecord? TryLoadImage(Digest manifestDigest)
    {
        var record = RecordJson.TryRead(ImagePath(manifestDigest), RecordJson.Default.ImageRecord);
        return record is not null && IsValid(record) && record.ManifestDigest == manifestDigest.ToString() ? record : null;
    }

    private bool IsValid(ImageRecord record) => record.Kind switch
    {
        SnapshotKinds.OverlayTree => record.ChainIds.Count > 0
            && record.ChainIds.Count == record.DiffIds.Count
            && record.ChainIds.All(c => Digest.TryParse(c, out var d) && TryLoadLayer(d) is { Kind: LayerKinds.Tree }),
        SnapshotKinds.BlockStack => record.ChainIds is [var only]
            && Digest.TryParse(only, out var key) && TryLoadLayer(key) is { Kind: LayerKinds.Block },
        _ => false,
    };

    public IEnumerable<ImageRecord> ImageRecords()
    {
        foreach (string file in Directory.EnumerateFiles(ImagesDirectory, "*.json"))
        {
            if (Digest.TryParse("sha256:" + Path.GetFileNameWithoutExtension(file), out var digest) && TryLoadImage(digest) is { } record)
            {
                yield return record;
            }
        }
    }

    public DateTimeOffset LastUsed(Digest manifestDigest)
    {
        try
        {
            return new DateTimeOffset(File.GetLastWriteTimeUtc(ImagePath(manifestDigest)), TimeSpan.Zero);
        }
        catch (IOException)
        {
            return DateTimeOffset.MinValue;
        }
    }

    // The last use is the record's modification time, set from the injected clock (so eviction order is testable).
    public void Touch(Digest manifestDigest)
    {
        try
        {
            File.SetLastWriteTimeUtc(ImagePath(manifestDigest), Time.GetUtcNow().UtcDateTime);
        }
        catch (IOException)
        {
        }
    }

    public void WriteImageRecord(ImageRecord record)
        => DurableFile.WriteAtomic(ImagePath(Digest.Parse(record.ManifestDigest)), JsonSerializer.SerializeToUtf8Bytes(record, RecordJson.Default.ImageRecord));

    /// <summary>Publishes a snapshot: its record, written last (a snapshot exists only once every layer under it is published), and its last use.</summary>
    public async Task PublishImageAsync(ImageRecord record, CancellationToken cancellationToken)
    {
        using (await LockStoreAsync(cancellationToken).ConfigureAwait(false))
        {
            WriteImageRecord(record);
            Touch(Digest.Parse(record.ManifestDigest));
        }
    }

    /// <summary>Adds the references <paramref name="image"/> names to an existing snapshot's record, and marks it used.</summary>
    public async Task AddReferenceAsync(ImageRecord record, ImageReference image, Digest rootDigest, CancellationToken cancellationToken)
    {
        var references = ReferencesOf(image, Digest.Parse(record.ManifestDigest), record.References, rootDigest);
        using (await LockStoreAsync(cancellationToken).ConfigureAwait(false))
        {
            if (!references.SequenceEqual(record.References, StringComparer.Ordinal))
            {
                WriteImageRecord(record with { References = references });
            }

            Touch(Digest.Parse(record.ManifestDigest));
        }
    }

    // The reference as given, NAME@MANIFEST and, for an index, NAME@INDEX: what a mount by digest looks for.
    public static string[] ReferencesOf(ImageReference image, Digest manifestDigest, IReadOnlyList<string> existing, Digest? rootDigest)
    {
        var references = new List<string>(existing);
        var names = new List<string> { image.ToString(), $"{image.Name}@{manifestDigest}" };
        if (rootDigest is { } root && root != manifestDigest)
        {
            names.Add($"{image.Name}@{root}");
        }

        foreach (string text in names)
        {
            if (!references.Contains(text, StringComparer.Ordinal))
            {
                references.Add(text);
            }
        }

        return [.. references];
    }

    /// <summary>Publishes a finished layer directory: metadata and (when durable) the tree on disk first, then the rename.</summary>
    public void PublishLayer(string layerDirectory, LayerRecord record)
    {
        using (var stream = new FileStream(Path.Combine(layerDirectory, "layer.json"), FileMode.CreateNew, FileAccess.Write))
        {
            JsonSerializer.Serialize(stream, record, RecordJson.Default.LayerRecord);
            stream.Flush(flushToDisk: true);
        }

        if (Options.Durable)
        {
            DurableFile.SyncFileSystem(layerDirectory);
        }

        Digest chainId = Digest.Parse(record.ChainId);
        string target = LayerPath(chainId);
        if (Directory.Exists(target))
        {
            // Held under the layer lock and not valid (TryLoadLayer was null): a leftover to replace.
            DeleteTree(target);
        }

        Directory.Move(layerDirectory, target);
        DurableFile.SyncDirectory(LayersDirectory);
    }

    /// <summary>The directory holding the pins of <paramref name="chainId"/>.</summary>
    public string PinPath(Digest chainId) => Path.Combine(PinsDirectory, chainId.Encoded);

    /// <summary>The pins of <paramref name="chainId"/> (their names), none when it has none.</summary>
    public IReadOnlyList<string> PinsOf(Digest chainId)
    {
        string directory = PinPath(chainId);
        return Directory.Exists(directory)
            ? Directory.EnumerateFiles(directory).Select(f => Path.GetFileName(f)).Where(n => !n.StartsWith('.')).Order(StringComparer.Ordinal).ToList()
            : [];
    }

    /// <summary>
    /// The chain IDs nothing may delete because a holder pinned them: each pinned layer and every layer under it (an
    /// overlay of a pinned layer needs its parents). Call under the store lock.
    /// </summary>
    public HashSet<string> PinnedLayers()
    {
        var held = new HashSet<string>(StringComparer.Ordinal);
        foreach (string directory in Directory.EnumerateDirectories(PinsDirectory))
        {
            if (!Digest.TryParse("sha256:" + Path.GetFileName(directory), out var chainId) || PinsOf(chainId).Count == 0)
            {
                continue;
            }

            // Walk down the chain; a corrupt record still keeps its own directory (the pin names it).
            Digest? current = chainId;
            while (current is { } layer && held.Add(layer.ToString()))
            {
                var record = RecordJson.TryRead(Path.Combine(LayerPath(layer), "layer.json"), RecordJson.Default.LayerRecord);
                current = record?.Parent is { } parent && Digest.TryParse(parent, out var p) ? p : null;
            }
        }

        return held;
    }

    /// <summary>Takes the store-wide lock that orders publishing, eviction and clone registration across processes.</summary>
    public Task<FileLock> LockStoreAsync(CancellationToken cancellationToken) => FileLock.AcquireAsync(StoreLockPath, cancellationToken);

    /// <summary>Deletes a tree, moving it aside first so that it disappears from its place at once.</summary>
    public void DeleteTree(string path)
    {
        if (!Directory.Exists(path))
        {
            return;
        }

        string trash = Path.Combine(TrashDirectory, Guid.NewGuid().ToString("N"));
        try
        {
            Directory.Move(path, trash);
        }
        catch (IOException)
        {
            trash = path;
        }

        try
        {
            Directory.Delete(trash, recursive: true);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            LogDeleteFailed(trash, ex);
        }
    }

    /// <summary>Disk bytes of a tree (allocated blocks; hard-linked files counted once).</summary>
    public static long DiskUsage(string root)
    {
        var seen = new HashSet<ulong>();
        long bytes = LibC.Lstat(root).Blocks * 512;
        foreach (string path in FileTree.EnumerateEntries(root))
        {
            var status = LibC.Lstat(path);
            if (status.Nlink > 1 && !status.IsDirectory && !seen.Add(status.Inode))
            {
                continue;
            }

            bytes += status.Blocks * 512;
        }

        return bytes;
    }

    /// <summary>The clones in use (registering, or mounted) and the clone directories nothing uses any more.</summary>
    public MountState LiveMounts()
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

    /// <summary>
    /// A private directory for one warm or import, holding a lock for as long as it lives (so recovery in another
    /// process knows it is not abandoned) and the chain IDs it builds on (so eviction leaves them alone).
    /// </summary>
    public async Task<Staging> CreateStagingAsync(IEnumerable<Digest> uses, CancellationToken cancellationToken)
    {
        using (await LockStoreAsync(cancellationToken).ConfigureAwait(false))
        {
            string path = Directory.CreateDirectory(Path.Combine(StagingDirectory, Guid.NewGuid().ToString("N"))).FullName;
            var held = FileLock.TryAcquire(Path.Combine(path, ".lock")) ?? throw new IOException($"Cannot lock the new staging directory {path}.");
            await File.WriteAllLinesAsync(Path.Combine(path, "uses"), uses.Select(u => u.ToString()), cancellationToken).ConfigureAwait(false);
            return new Staging(this, path, held);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not delete {Path}.")]
    public partial void LogDeleteFailed(string path, Exception exception);
}

/// <summary>An image resolved for one platform, with the chain IDs its layers have as snapshot layers.</summary>
internal sealed record ImageKey(ImageReference Image, ResolvedImage Resolved, IReadOnlyList<Digest> DiffIds, IReadOnlyList<Digest> ChainIds)
{
    public Digest ManifestDigest => Resolved.Manifest.Digest;
}

/// <summary>The clones in use: their snapshots and the layers under them; and the clone directories nothing uses.</summary>
internal sealed record MountState(HashSet<string> Digests, HashSet<string> ChainIds, List<string> Stale);

/// <summary>A staging directory (see <see cref="SnapshotCatalog.CreateStagingAsync"/>); disposing it unmounts and deletes what is in it.</summary>
internal sealed class Staging(SnapshotCatalog catalog, string path, FileLock held) : IDisposable
{
    public string Path { get; } = path;

    /// <summary>Lists one more layer this staging directory builds on, so eviction leaves it alone meanwhile.</summary>
    public Task AddUseAsync(Digest chainId, CancellationToken cancellationToken)
        => File.AppendAllLinesAsync(System.IO.Path.Combine(Path, "uses"), [chainId.ToString()], cancellationToken);

    public void Dispose()
    {
        try
        {
            foreach (string mount in MountTable.MountPointsUnder(MountTable.Read(), Path))
            {
                FileSystemMount.Unmount(mount);
            }

            catalog.DeleteTree(Path);
        }
        finally
        {
            held.Dispose();
        }
    }
}

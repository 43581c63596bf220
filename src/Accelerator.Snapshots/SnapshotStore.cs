using System.Collections.Concurrent;
using System.Text.Json;
using Accelerator.Oci.IO;
using Accelerator.Oci.Model;
using Accelerator.Oci.Resolution;
using Accelerator.Oci.Validation;
using Accelerator.Snapshots.Interop;
using Accelerator.Snapshots.Storage;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Accelerator.Snapshots;

/// <summary>
/// The snapshot cache: images prepared ahead of time as immutable stacks of unpacked layers, one directory per layer
/// keyed by its chain ID (as containerd's overlay snapshotter does), and cloned copy-on-write by an overlayfs mount
/// whose lower directories are the layers and whose upper directory is new. Images sharing their lowest layers share
/// those directories, so a warm fetches only the layers the store lacks. Safe to use from several processes at once
/// (file locks), and crash-safe: layers and snapshots are published by rename with their metadata already on disk, and
/// opening the store removes whatever a crashed process left unfinished. A second kind, block-stack snapshots
/// (<see cref="SnapshotKind.BlockStack"/>), keeps an image's block variant as one verified disk file and clones it
/// through FUSE, a loop device and read-only ext4 with an overlay upper directory. Linux only; needs root (overlayfs mounts).
/// </summary>
/// <remarks>
/// Layout under <see cref="SnapshotStoreOptions.Root"/>: <c>layers/HEX/{fs,layer.json}</c> (HEX: the chain ID's
/// hex digest; a block layer: <c>layers/HEX/{disk,index,layer.json}</c>, HEX: the block index digest's), <c>images/HEX.json</c> (HEX: the manifest digest's), <c>mounts/ID/{upper,work,mount.json}</c>,
/// <c>staging/ID/</c> (warms in progress, each holding a lock), <c>locks/</c>.
/// </remarks>
public sealed partial class SnapshotStore
{
    private readonly SnapshotStoreOptions _options;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly ConcurrentDictionary<Digest, Task<SnapshotWarmResult>> _warms = new();

    // Block-stack warms in this process, apart from tree warms: a warm of one kind never hands its result to the other.
    private readonly ConcurrentDictionary<Digest, Task<SnapshotWarmResult>> _blockWarms = new();

    private SnapshotStore(SnapshotStoreOptions options, ILogger logger, TimeProvider time)
    {
        _options = options;
        _logger = logger;
        _time = time;
        Root = Path.GetFullPath(options.Root);
    }

    /// <summary>The store's directory.</summary>
    public string Root { get; }

    /// <summary>What opening the store found and repaired.</summary>
    public SnapshotRecoveryReport Recovery { get; private set; } = new(0, 0, 0, 0);

    private string LayersDirectory => Path.Combine(Root, "layers");

    private string ImagesDirectory => Path.Combine(Root, "images");

    private string MountsDirectory => Path.Combine(Root, "mounts");

    private string StagingDirectory => Path.Combine(Root, "staging");

    private string LocksDirectory => Path.Combine(Root, "locks");

    private string TrashDirectory => Path.Combine(Root, "trash");

    /// <summary>
    /// Opens (creating if needed) the store at <see cref="SnapshotStoreOptions.Root"/>, and repairs it: unfinished warms
    /// of dead processes, layers and snapshots whose metadata is missing or corrupt, and clones no longer mounted are
    /// removed.
    /// </summary>
    /// <exception cref="ArgumentException">An option is out of range.</exception>
    public static SnapshotStore Open(SnapshotStoreOptions options, ILogger<SnapshotStore>? logger = null, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        new SnapshotStoreOptionsValidator().ThrowIfInvalid(options, "snapshot store");
        var store = new SnapshotStore(options, (ILogger?)logger ?? NullLogger.Instance, timeProvider ?? TimeProvider.System);

        // The store holds unpacked images (set-user-ID files, devices) and the upper directories of live clones: only
        // its owner may enter it (containerd's answer to CVE-2021-41103 for its snapshotters is the same).
        Accelerator.Oci.IO.PrivateDirectory.Create(options.Root);
        foreach (string directory in new[] { store.LayersDirectory, store.ImagesDirectory, store.MountsDirectory, store.StagingDirectory, store.LocksDirectory, store.TrashDirectory })
        {
            Directory.CreateDirectory(directory);
        }

        store.Recovery = store.Recover();
        return store;
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

    /// <summary>
    /// The snapshots a reference names without asking a registry: by digest (manifest or index) or by a reference it
    /// was warmed as.
    /// </summary>
    public IReadOnlyList<SnapshotInfo> FindByReference(ImageReference image)
    {
        ArgumentNullException.ThrowIfNull(image);
        string text = image.ToString();
        var mounts = LiveMounts();
        return ImageRecords()
            .Where(r => r.References.Contains(text, StringComparer.Ordinal)
                || (image.Digest is { } d && (r.ManifestDigest == d.ToString() || r.References.Any(x => x.EndsWith("@" + d, StringComparison.Ordinal)))))
            .Select(r => Describe(r, mounts))
            .ToList();
    }

    /// <summary>How the store matches <paramref name="image"/>: exact snapshot, a warm running, shared lowest layers, or nothing.</summary>
    public async Task<SnapshotMatch> MatchAsync(IImageStore store, ImageReference image, Platform? platform = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(image);
        var key = await ResolveAsync(store, image, platform, cancellationToken).ConfigureAwait(false);
        return Match(key);
    }

    private SnapshotMatch Match(ImageKey key)
    {
        Digest digest = key.ManifestDigest;
        int total = key.ChainIds.Count;
        if (TryLoadImage(digest) is not null)
        {
            return new SnapshotMatch(SnapshotMatchKind.Exact, digest, total, total);
        }

        int shared = SharedPrefix(key.ChainIds);
        if (_warms.ContainsKey(digest) || _blockWarms.ContainsKey(digest) || FileLock.IsHeld(ImageLockPath(digest)))
        {
            return new SnapshotMatch(SnapshotMatchKind.Warming, digest, shared, total);
        }

        return new SnapshotMatch(shared > 0 ? SnapshotMatchKind.Prefix : SnapshotMatchKind.None, digest, shared, total);
    }

    private int SharedPrefix(IReadOnlyList<Digest> chainIds)
    {
        int shared = 0;
        while (shared < chainIds.Count && TryLoadLayer(chainIds[shared]) is { Kind: LayerKinds.Tree })
        {
            shared++;
        }

        return shared;
    }

    /// <summary>An image resolved for one platform, with the chain IDs its layers have as snapshot layers.</summary>
    private sealed record ImageKey(ImageReference Image, ResolvedImage Resolved, IReadOnlyList<Digest> DiffIds, IReadOnlyList<Digest> ChainIds)
    {
        public Digest ManifestDigest => Resolved.Manifest.Digest;
    }

    private static async Task<ImageKey> ResolveAsync(IImageStore store, ImageReference image, Platform? platform, CancellationToken cancellationToken)
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

    private SnapshotInfo Describe(ImageRecord record, MountState mounts)
    {
        Digest digest = Digest.Parse(record.ManifestDigest);
        var chain = record.ChainIds.Select(Digest.Parse).ToArray();
        long size = chain.Sum(c => TryLoadLayer(c)?.SizeBytes ?? 0);
        return new SnapshotInfo(digest, record.References, chain, size, record.Created, LastUsed(digest), mounts.Digests.Contains(record.ManifestDigest))
        {
            Kind = SnapshotKinds.Parse(record.Kind),
        };
    }

    private string LayerPath(Digest chainId) => Path.Combine(LayersDirectory, chainId.Encoded);

    private string LayerTree(Digest chainId) => Path.Combine(LayerPath(chainId), "fs");

    private string ImagePath(Digest manifestDigest) => Path.Combine(ImagesDirectory, manifestDigest.Encoded + ".json");

    private string ImageLockPath(Digest manifestDigest) => Path.Combine(LocksDirectory, "image-" + manifestDigest.Encoded + ".lock");

    private string LayerLockPath(Digest chainId) => Path.Combine(LocksDirectory, "layer-" + chainId.Encoded + ".lock");

    private string StoreLockPath => Path.Combine(LocksDirectory, "store.lock");

    /// <summary>The published layer <paramref name="chainId"/> when its metadata is valid; else null.</summary>
    private LayerRecord? TryLoadLayer(Digest chainId)
    {
        string directory = LayerPath(chainId);
        var record = RecordJson.TryRead(Path.Combine(directory, "layer.json"), RecordJson.Default.LayerRecord);
        bool complete = record?.Kind switch
        {
            LayerKinds.Tree => Directory.Exists(Path.Combine(directory, "fs")),
            LayerKinds.Block => File.Exists(Path.Combine(directory, BlockDiskFile)) && File.Exists(Path.Combine(directory, BlockIndexFile)),
            _ => false,
        };
        return complete && record!.ChainId == chainId.ToString() ? record : null;
    }

    /// <summary>The published snapshot of <paramref name="manifestDigest"/> when its record and all its layers are valid; else null.</summary>
    private ImageRecord? TryLoadImage(Digest manifestDigest)
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

    private IEnumerable<ImageRecord> ImageRecords()
    {
        foreach (string file in Directory.EnumerateFiles(ImagesDirectory, "*.json"))
        {
            if (Digest.TryParse("sha256:" + Path.GetFileNameWithoutExtension(file), out var digest) && TryLoadImage(digest) is { } record)
            {
                yield return record;
            }
        }
    }

    private DateTimeOffset LastUsed(Digest manifestDigest)
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
    private void Touch(Digest manifestDigest)
    {
        try
        {
            File.SetLastWriteTimeUtc(ImagePath(manifestDigest), _time.GetUtcNow().UtcDateTime);
        }
        catch (IOException)
        {
        }
    }

    private void WriteImageRecord(ImageRecord record)
        => DurableFile.Write(ImagePath(Digest.Parse(record.ManifestDigest)), JsonSerializer.SerializeToUtf8Bytes(record, RecordJson.Default.ImageRecord));

    /// <summary>Takes the store-wide lock that orders publishing, eviction and clone registration across processes.</summary>
    private Task<FileLock> LockStoreAsync(CancellationToken cancellationToken) => FileLock.AcquireAsync(StoreLockPath, cancellationToken);

    /// <summary>Deletes a tree, moving it aside first so that it disappears from its place at once.</summary>
    private void DeleteTree(string path)
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
    private static long DiskUsage(string root)
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
}

using System.Collections.Concurrent;
using System.Text.Json;
using Accelerator.Linux;
using Accelerator.Oci.Model;
using Accelerator.Oci.Resolution;
using Accelerator.Oci.Validation;
using Accelerator.Snapshots.Storage;
using Accelerator.Snapshots.Archive;
using Accelerator.Snapshots.Catalog;
using Accelerator.Snapshots.Eviction;
using Accelerator.Snapshots.Mounting;
using Accelerator.Snapshots.Sharing;
using Accelerator.Snapshots.Warming;
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
/// <para>
/// The store is a facade over collaborators with one responsibility each (see the package README): the catalog
/// (records on disk, listing, matching, staging, recovery), the tree and block warmers, the cloner (mounting), the
/// archivers (export and import) and the evictor.
/// </para>
/// </remarks>
public sealed class SnapshotStore
{
    /// <summary>The media type of an exported snapshot blob: a tar of <c>snapshot.json</c> then <c>layers/N.tar</c>.</summary>
    public const string ArchiveMediaType = "application/vnd.accelerator.snapshot.v1.tar";

    /// <summary>The artifact type of the OCI manifest an exported snapshot is pushed under.</summary>
    public const string ArtifactType = "application/vnd.accelerator.snapshot.v1";

    /// <summary>The manifest annotation naming the image manifest a pushed snapshot was made from.</summary>
    public const string SourceManifestAnnotation = "dev.accelerator.snapshot.manifest";

    private readonly SnapshotCatalog _catalog;
    private readonly TreeSnapshotWarmer _trees;
    private readonly BlockSnapshotWarmer _blocks;
    private readonly SnapshotCloner _cloner;
    private readonly SnapshotArchiver _archiver;
    private readonly SnapshotEvictor _evictor;
    private readonly SharedLayers _shared;

    private SnapshotStore(SnapshotStoreOptions options, ILogger logger, TimeProvider time)
    {
        _catalog = new SnapshotCatalog(options, logger, time);
        _evictor = new SnapshotEvictor(_catalog, logger);
        _trees = new TreeSnapshotWarmer(_catalog, _evictor, logger);
        _blocks = new BlockSnapshotWarmer(_catalog, _evictor, logger);
        _cloner = new SnapshotCloner(_catalog, _trees, _blocks, logger);
        _archiver = new SnapshotArchiver(_catalog, _trees, new BlockSnapshotArchiver(_catalog, _evictor));
        _shared = new SharedLayers(_catalog, logger);
    }

    /// <summary>The store's directory.</summary>
    public string Root => _catalog.Root;

    /// <summary>What opening the store found and repaired.</summary>
    public SnapshotRecoveryReport Recovery { get; private set; } = new(0, 0, 0, 0);

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
        var log = (ILogger?)logger ?? NullLogger.Instance;
        var store = new SnapshotStore(options, log, timeProvider ?? TimeProvider.System);
        store._catalog.Create();
        store.Recovery = new SnapshotRecovery(store._catalog, log).Recover();
        return store;
    }

    /// <summary>The snapshots in the store, most recently used first.</summary>
    public IReadOnlyList<SnapshotInfo> List() => _catalog.List();

    /// <summary>The snapshot of <paramref name="manifestDigest"/>, or null.</summary>
    public SnapshotInfo? Find(Digest manifestDigest) => _catalog.Find(manifestDigest);

    /// <summary>
    /// The snapshots a reference names without asking a registry: by digest (manifest or index) or by a reference it
    /// was warmed as.
    /// </summary>
    public IReadOnlyList<SnapshotInfo> FindByReference(ImageReference image)
    {
        ArgumentNullException.ThrowIfNull(image);
        return _catalog.FindByReference(image);
    }

    /// <summary>How the store matches <paramref name="image"/>: exact snapshot, a warm running, shared lowest layers, or nothing.</summary>
    public async Task<SnapshotMatch> MatchAsync(IImageStore store, ImageReference image, Platform? platform = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(image);
        var key = await SnapshotCatalog.ResolveAsync(store, image, platform, cancellationToken).ConfigureAwait(false);
        return _catalog.Match(key, _cloner.IsWarmingHere(key.ManifestDigest));
    }

    /// <summary>
    /// Prepares <paramref name="image"/> as a snapshot: resolves it through <paramref name="store"/> (a registry, its
    /// mirror set, an OCI layout), downloads the layers the store does not have yet (each verified against its digest,
    /// and its uncompressed content against the config's diff ID), unpacks each onto the layers below it, publishes
    /// each layer and then the snapshot atomically, and evicts what capacity and time-to-live require. Warms of the
    /// same image at once, here or in other processes, share one pull.
    /// </summary>
    /// <remarks>Makes a snapshot of the store's default kind, <see cref="SnapshotStoreOptions.Kind"/> (see the overload naming a kind).</remarks>
    public Task<SnapshotWarmResult> WarmAsync(IImageStore store, ImageReference image, Platform? platform = null, CancellationToken cancellationToken = default)
        => WarmAsync(store, image, _catalog.Options.Kind, platform, cancellationToken);

    /// <summary>
    /// Prepares <paramref name="image"/> as a snapshot of <paramref name="kind"/>. An
    /// <see cref="SnapshotKind.OverlayTree"/> snapshot is built as <see cref="WarmAsync(IImageStore, ImageReference, Platform?, CancellationToken)"/>
    /// describes. A <see cref="SnapshotKind.BlockStack"/> snapshot takes the image's block variant — the reference
    /// itself when it is a block image, else <c>TAG-accel-block</c> beside it — or, when there is none and
    /// <see cref="SnapshotStoreOptions.ConvertMissingBlockImages"/> is set, converts the image locally
    /// (<see cref="Accelerator.Block.Conversion.BlockConverter"/>, root); then fetches every data blob (verified by digest), decodes every block
    /// (verified against the index) into one flattened disk file, and publishes it with the index as one layer keyed by
    /// the index digest — opening it later needs no network. The snapshot is keyed by the manifest digest of
    /// <paramref name="image"/>, as tree snapshots are; one manifest has one snapshot of one kind.
    /// </summary>
    /// <exception cref="InvalidOperationException">A snapshot of another kind of the image exists, or the image has no block variant and conversion is off.</exception>
    public async Task<SnapshotWarmResult> WarmAsync(IImageStore store, ImageReference image, SnapshotKind kind, Platform? platform = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(image);
        if (kind == SnapshotKind.OverlayTree)
        {
            var key = await SnapshotCatalog.ResolveAsync(store, image, platform, cancellationToken).ConfigureAwait(false);
            return await _trees.WarmAsync(store, key, cancellationToken).ConfigureAwait(false);
        }

        return await _blocks.WarmAsync(store, image, platform, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Clones the snapshot of <paramref name="image"/> at <paramref name="target"/> (an existing directory): an overlay
    /// whose lower directories are the snapshot's layers and whose upper directory is new, so the time does not grow
    /// with the image's size and writes never reach the snapshot. When there is no snapshot of the image but a warm of
    /// it is running, or layers sharing its lowest layers exist, it is warmed first (see
    /// <see cref="SnapshotMountOptions.TopUp"/>). A tag is resolved through <paramref name="store"/>; when that fails,
    /// a snapshot warmed under the same reference is used.
    /// </summary>
    /// <exception cref="SnapshotNotFoundException">Nothing in the store can serve the image.</exception>
    public Task<SnapshotMountedImage> MountAsync(IImageStore store, ImageReference image, string target, SnapshotMountOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(image);
        ArgumentException.ThrowIfNullOrEmpty(target);
        return _cloner.MountAsync(store, image, target, options, cancellationToken);
    }

    /// <summary>Clones an existing snapshot by manifest digest (no registry involved).</summary>
    /// <exception cref="SnapshotNotFoundException">There is no valid snapshot of <paramref name="manifestDigest"/>.</exception>
    public Task<SnapshotMountedImage> MountAsync(Digest manifestDigest, ImageReference image, string target, bool readOnly = false, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(image);
        return _cloner.MountAsync(manifestDigest, image, target, readOnly, cancellationToken);
    }

    /// <summary>
    /// The snapshot that serves <paramref name="image"/> without asking its registry: one whose manifest (or the index
    /// it was warmed from) has the reference's digest; or, when <see cref="SnapshotStoreOptions.ResolveTags"/> is off,
    /// the one warmed under the same reference. Null when there is none, or more than one.
    /// </summary>
    public SnapshotInfo? TryFindWithoutRegistry(ImageReference image)
    {
        ArgumentNullException.ThrowIfNull(image);
        return _cloner.TryFindWithoutRegistry(image);
    }

    /// <summary>
    /// The snapshot of the manifest a tag names now, found with one HEAD request (no manifest or config read, nothing
    /// hashed): null when the reference is pinned by digest, a platform is asked for, the tag names an index, or there
    /// is no snapshot of that manifest — the caller then resolves the image in full.
    /// </summary>
    public Task<SnapshotInfo?> TryFindCurrentAsync(IImageStore store, ImageReference image, Platform? platform = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(image);
        return _cloner.TryFindCurrentAsync(store, image, platform, cancellationToken);
    }

    /// <summary>Evicts the snapshot of <paramref name="manifestDigest"/> and the layers no other snapshot uses.</summary>
    /// <returns>False when there is no such snapshot.</returns>
    /// <exception cref="InvalidOperationException">A clone of it is mounted.</exception>
    public Task<bool> EvictAsync(Digest manifestDigest, CancellationToken cancellationToken = default) => _evictor.EvictAsync(manifestDigest, cancellationToken);

    /// <summary>
    /// Applies the time-to-live and the capacity: evicts snapshots unused for longer than the time-to-live, then the
    /// least recently used ones while the store is over capacity (layers no snapshot uses first). Mounted snapshots and
    /// the layers of warms in progress are never evicted.
    /// </summary>
    /// <returns>The snapshots evicted.</returns>
    public Task<int> PruneAsync(CancellationToken cancellationToken = default) => _evictor.PruneAsync(keep: null, cancellationToken);

    /// <summary>Disk bytes of all published layers.</summary>
    public long UsedBytes() => _evictor.UsedBytes();

    /// <summary>
    /// The published tree layer <paramref name="chainId"/> when it is valid (its record names it and its tree exists);
    /// else null. Its <see cref="SnapshotLayer.TreePath"/> is an overlayfs lower directory holding this layer alone; the
    /// layers under it are found through <see cref="SnapshotLayer.Parent"/>.
    /// </summary>
    public SnapshotLayer? FindLayer(Digest chainId) => _shared.Find(chainId);

    /// <summary>
    /// Makes <paramref name="directory"/> — a finished layer tree in overlayfs upper-directory form (whiteouts as
    /// <c>0/0</c> character devices, opaque directories marked <c>trusted.overlay.opaque</c>), as containerd's overlay
    /// snapshotter commits it — the tree of layer <paramref name="chainId"/>, whose parent is <paramref name="parent"/>
    /// (already a layer of the store; null for a first layer). The directory is moved, not copied: it must be on the
    /// store's file system. Its record is written and the file system synced before the layer is published by rename,
    /// and a crash in between gives the tree back to <paramref name="directory"/> at the next open. When the layer is in
    /// the store already, the same chain ID being the same content, <paramref name="directory"/> is deleted and the
    /// existing layer answered. An adopted layer records no diff ID (the store did not unpack it): the caller vouches that
    /// the tree is the content <paramref name="chainId"/> names — only root, through the snapshotter's socket, can make
    /// it do so (docs/security.md).
    /// </summary>
    /// <param name="chainId">The layer's chain ID.</param>
    /// <param name="parent">The chain ID of the layer under it, or null.</param>
    /// <param name="directory">The tree to take over.</param>
    /// <param name="pin">When given, the layer is pinned under this name as it is published (see <see cref="PinLayerAsync"/>).</param>
    /// <param name="cancellationToken">Cancels waiting for the locks.</param>
    /// <exception cref="InvalidOperationException">The parent is not a layer of the store, or the existing layer has another parent.</exception>
    /// <exception cref="DirectoryNotFoundException"><paramref name="directory"/> is not a directory.</exception>
    /// <exception cref="IOException">The directory is on another file system (nothing was moved).</exception>
    public Task<SnapshotLayer> AdoptLayerAsync(Digest chainId, Digest? parent, string directory, string? pin = null, CancellationToken cancellationToken = default)
        => _shared.AdoptAsync(chainId, parent, directory, pin, cancellationToken);

    /// <summary>
    /// Pins the tree layer <paramref name="chainId"/> under <paramref name="pin"/> (a holder's name for its use, e.g. one
    /// per containerd snapshot): while it has a pin, eviction, prune and recovery never delete it or the layers under it,
    /// whatever the capacity and time-to-live say. Durable: pins survive restarts. Pinning twice under one name is one pin.
    /// </summary>
    /// <returns>The layer, or null (and no pin) when the store has no valid tree layer <paramref name="chainId"/>.</returns>
    /// <exception cref="ArgumentException"><paramref name="pin"/> is not 1–128 letters, digits, <c>_</c>, <c>.</c> or <c>-</c> (not starting with <c>.</c>).</exception>
    public Task<SnapshotLayer?> PinLayerAsync(Digest chainId, string pin, CancellationToken cancellationToken = default)
        => _shared.PinAsync(chainId, pin, cancellationToken);

    /// <summary>Removes one pin of <paramref name="chainId"/>. The layer stays in the cache until a prune or eviction finds nothing using it.</summary>
    /// <returns>False when there was no such pin.</returns>
    public Task<bool> UnpinLayerAsync(Digest chainId, string pin, CancellationToken cancellationToken = default)
        => _shared.UnpinAsync(chainId, pin, cancellationToken);

    /// <summary>The pins of <paramref name="chainId"/>, by name.</summary>
    public IReadOnlyList<string> LayerPins(Digest chainId) => _catalog.PinsOf(chainId);

    /// <summary>
    /// Writes the snapshot of <paramref name="manifestDigest"/> to <paramref name="destination"/> as one blob, a tar:
    /// <c>snapshot.json</c> (version 2: kind, manifest digest, references), <c>image/manifest.json</c> and
    /// <c>image/config.json</c> (the image's own bytes), then for a tree snapshot <c>layers/0</c>… (each layer blob as the
    /// registry stores it, read through <paramref name="source"/>), or for a block-stack snapshot
    /// <c>block/manifest.json</c> (the block variant's manifest), <c>block/index</c> and <c>block/data</c>. Everything an
    /// importer publishes is bound by digests to the manifest digest: the archive does not vouch for itself.
    /// </summary>
    /// <param name="manifestDigest">The snapshot's manifest digest.</param>
    /// <param name="destination">Where the archive is written.</param>
    /// <param name="source">Where a tree snapshot's layer blobs are read (a registry, mirror set or layout holding the image); not needed for a block-stack snapshot.</param>
    /// <param name="image">The image in <paramref name="source"/> (its digest is replaced by <paramref name="manifestDigest"/>); default: a reference the snapshot was warmed as.</param>
    /// <param name="cancellationToken">Cancels the export.</param>
    /// <returns>The blob's descriptor (digest and size of what was written).</returns>
    /// <exception cref="SnapshotNotFoundException">There is no valid snapshot of <paramref name="manifestDigest"/>.</exception>
    /// <exception cref="InvalidOperationException">A tree snapshot without a <paramref name="source"/>, or a block snapshot made before archives carried its provenance.</exception>
    public Task<Descriptor> ExportAsync(Digest manifestDigest, Stream destination, IImageStore? source = null, ImageReference? image = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(destination);
        return _archiver.ExportAsync(manifestDigest, destination, source, image, cancellationToken);
    }

    /// <summary>
    /// Imports a snapshot written by <see cref="ExportAsync"/> without trusting it: the manifest must hash to the
    /// manifest digest the header claims, the config to the manifest's config digest; a tree snapshot's layer blobs
    /// must match the manifest's layer digests and, uncompressed, the config's diff IDs (the trees are then built here,
    /// as a warm builds them); a block snapshot's variant manifest must name the manifest as its source, share its
    /// config and list the index, whose every block is checked. Only references pinned to the verified manifest digest
    /// (<c>NAME@DIGEST</c>) are recorded: a tag in an archive is a claim nobody checked. On any mismatch nothing is
    /// published.
    /// </summary>
    /// <exception cref="InvalidDataException">The archive is malformed, of an unverifiable version, or its contents do not match its digests.</exception>
    /// <exception cref="DigestMismatchException">A blob or block does not match its digest.</exception>
    public Task<SnapshotInfo> ImportAsync(Stream source, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(source);
        return _archiver.ImportAsync(source, cancellationToken);
    }

    /// <summary>
    /// Exports the snapshot of <paramref name="manifestDigest"/> and pushes it to <paramref name="destination"/> as an
    /// OCI artifact (artifact type <see cref="ArtifactType"/>, the empty config, the archive as its one layer), so other
    /// nodes pull it through their mirrors and peers like any blob.
    /// </summary>
    /// <param name="manifestDigest">The snapshot's manifest digest.</param>
    /// <param name="target">Where to push.</param>
    /// <param name="destination">The artifact reference.</param>
    /// <param name="source">Where a tree snapshot's layer blobs are read (see <see cref="ExportAsync"/>).</param>
    /// <param name="image">The image in <paramref name="source"/>; default: a reference the snapshot was warmed as.</param>
    /// <param name="cancellationToken">Cancels the push.</param>
    /// <returns>The pushed manifest's descriptor.</returns>
    public Task<Descriptor> PushAsync(Digest manifestDigest, IImageStore target, ImageReference destination, IImageStore? source = null, ImageReference? image = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(target);
        ArgumentNullException.ThrowIfNull(destination);
        return _archiver.PushAsync(manifestDigest, target, destination, source, image, cancellationToken);
    }

    /// <summary>Pulls a snapshot pushed with <see cref="PushAsync"/> from <paramref name="artifact"/> and imports it.</summary>
    /// <exception cref="InvalidDataException">The artifact is not a snapshot.</exception>
    public Task<SnapshotInfo> PullAsync(IImageStore source, ImageReference artifact, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(artifact);
        return _archiver.PullAsync(source, artifact, cancellationToken);
    }
}

using Accelerator.Linux;
using System.Diagnostics;
using Accelerator.Oci.Layers;
using Accelerator.Oci.Model;
using Accelerator.Snapshots.Catalog;
using Accelerator.Snapshots.Eviction;
using Accelerator.Snapshots.Storage;
using Microsoft.Extensions.Logging;

namespace Accelerator.Snapshots.Warming;

/// <summary>
/// Warms overlay-tree snapshots: downloads the layers the store does not have yet (each verified against its digest,
/// and its uncompressed content against the config's diff ID), unpacks each onto the layers below it, publishes each
/// layer and then the snapshot atomically, and prunes. Warms of the same image at once, here or in other processes,
/// share one pull.
/// </summary>
internal sealed partial class TreeSnapshotWarmer(SnapshotCatalog catalog, SnapshotEvictor evictor, ILogger logger)
{
    private readonly ILogger _logger = logger;
    private readonly RunningWarms _warms = new();

    /// <summary>The warms of this kind running in this process.</summary>
    public RunningWarms Running => _warms;

    /// <summary>Warms <paramref name="key"/>, joining a warm of the same image already running in this process.</summary>
    public Task<SnapshotWarmResult> WarmAsync(IImageStore store, ImageKey key, CancellationToken cancellationToken)
        => _warms.JoinOrStartAsync(key.ManifestDigest, () => RunWarmAsync(store, key, cancellationToken), cancellationToken);

    /// <summary>Warms <paramref name="key"/> under its image lock (an import calls this directly, with the layout it staged).</summary>
    // references: what to record instead of the reference warmed from (an import records only verified ones).
    public async Task<SnapshotWarmResult> RunWarmAsync(IImageStore store, ImageKey key, CancellationToken cancellationToken, IReadOnlyList<string>? references = null)
    {
        var stopwatch = Stopwatch.StartNew();
        Digest digest = key.ManifestDigest;
        using var imageLock = await FileLock.AcquireAsync(catalog.ImageLockPath(digest), cancellationToken).ConfigureAwait(false);
        if (catalog.TryLoadImage(digest) is { } existing)
        {
            if (existing.Kind != SnapshotKinds.OverlayTree)
            {
                throw new InvalidOperationException($"A snapshot of kind {existing.Kind} of {key.Image} ({digest}) is in {catalog.Root}; evict it before warming a tree snapshot.");
            }

            if (references is null)
            {
                await catalog.AddReferenceAsync(existing, key.Image, key.Resolved.Root.Digest, cancellationToken).ConfigureAwait(false);
            }

            return new SnapshotWarmResult(catalog.Describe(catalog.TryLoadImage(digest) ?? existing), 0, key.ChainIds.Count, 0, new Dictionary<string, long>(), stopwatch.Elapsed);
        }

        using var staging = await catalog.CreateStagingAsync(key.ChainIds, cancellationToken).ConfigureAwait(false);
        int reused = catalog.SharedPrefix(key.ChainIds);
        var sources = new Dictionary<string, long>(StringComparer.Ordinal);
        int built = 0;
        if (reused < key.ChainIds.Count)
        {
            built = await BuildLayersAsync(store, key, reused, staging, sources, cancellationToken).ConfigureAwait(false);
        }

        var record = new ImageRecord
        {
            ManifestDigest = digest.ToString(),
            References = references ?? SnapshotCatalog.ReferencesOf(key.Image, digest, [], key.Resolved.Root.Digest),
            ChainIds = key.ChainIds.Select(c => c.ToString()).ToArray(),
            DiffIds = key.DiffIds.Select(d => d.ToString()).ToArray(),
            Created = catalog.Time.GetUtcNow(),
        };

        // The record is written last: a snapshot exists only once every layer under it is published.
        await catalog.PublishImageAsync(record, cancellationToken).ConfigureAwait(false);

        long fetched = sources.Values.Sum();
        LogWarmed(key.Image, digest, built, key.ChainIds.Count - built, fetched, stopwatch.Elapsed.TotalMilliseconds);
        await evictor.PruneAsync(keep: digest, cancellationToken).ConfigureAwait(false);
        var snapshot = catalog.Describe(record);
        return new SnapshotWarmResult(snapshot, built, key.ChainIds.Count - built, fetched, sources, stopwatch.Elapsed);
    }

    /// <summary>Downloads layers <paramref name="first"/>.. in parallel and builds them lowest first; returns how many it built.</summary>
    private async Task<int> BuildLayersAsync(IImageStore store, ImageKey key, int first, Staging staging, Dictionary<string, long> sources, CancellationToken cancellationToken)
    {
        var layers = key.Resolved.Layers;
        string blobs = Directory.CreateDirectory(Path.Combine(staging.Path, "blobs")).FullName;
        using var downloads = new CancellationTokenSource();
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, downloads.Token);
        using var slots = new SemaphoreSlim(catalog.Options.MaxParallelDownloads);
        string sourceName = key.Image.Kind == ImageReferenceKind.Layout ? "layout" : "origin";
        var files = new Task<string>[layers.Count];
        for (int i = first; i < layers.Count; i++)
        {
            files[i] = BlobDownloads.DownloadAsync(store.Blobs, BlobAddress.For(key.Image.Repository, layers[i]), blobs, slots, sourceName, sources, linked.Token);
        }

        int built = 0;
        try
        {
            for (int i = first; i < layers.Count; i++)
            {
                string file = await files[i].ConfigureAwait(false);
                Digest chainId = key.ChainIds[i];
                using (await FileLock.AcquireAsync(catalog.LayerLockPath(chainId), linked.Token).ConfigureAwait(false))
                {
                    // Another warm sharing this layer may have built it while we downloaded.
                    if (catalog.TryLoadLayer(chainId) is null)
                    {
                        await BuildLayerAsync(staging, i, layers[i], key.DiffIds[i], key.ChainIds, file, linked.Token).ConfigureAwait(false);
                        built++;
                    }
                }

                File.Delete(file);
            }
        }
        catch
        {
            // Stop the other downloads and wait for them, so nothing writes into the staging directory we delete.
            await downloads.CancelAsync().ConfigureAwait(false);
            await Task.WhenAll(files.Where(t => t is not null).Select(t => t.ContinueWith(_ => { }, TaskScheduler.Default))).ConfigureAwait(false);
            throw;
        }

        return built;
    }

    /// <summary>
    /// Builds layer <paramref name="index"/> of a chain: unpacked into an overlay whose lower directories are the
    /// layers under it, so that the kernel turns deletions into overlay whiteouts in the new layer's directory (its
    /// upper directory); then published by rename.
    /// </summary>
    private async Task BuildLayerAsync(Staging staging, int index, Descriptor layer, Digest diffId, IReadOnlyList<Digest> chainIds, string blobFile, CancellationToken cancellationToken)
    {
        Digest chainId = chainIds[index];
        string layerDirectory = Directory.CreateDirectory(Path.Combine(staging.Path, $"layer-{index}")).FullName;
        string tree = Directory.CreateDirectory(Path.Combine(layerDirectory, "fs")).FullName;
        if (index == 0)
        {
            // A layer without a root entry leaves the root as umoci makes it: mtime at the epoch.
            LibC.SetModificationTime(tree, 0, 0);
            await ApplyAsync(blobFile, layer, diffId, tree, cancellationToken).ConfigureAwait(false);
        }
        else
        {
            string work = Directory.CreateDirectory(Path.Combine(staging.Path, $"work-{index}")).FullName;
            string mount = Directory.CreateDirectory(Path.Combine(staging.Path, $"mnt-{index}")).FullName;
            var lowers = Enumerable.Range(0, index).Reverse().Select(i => catalog.LayerTree(chainIds[i])).ToArray();
            LibC.CopyDirectoryAttributes(lowers[0], tree);
            OverlayMount.Mount(lowers, tree, work, mount);
            try
            {
                await ApplyAsync(blobFile, layer, diffId, mount, cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                FileSystemMount.Unmount(mount);
            }

            Directory.Delete(work, recursive: true);
            Directory.Delete(mount);
        }

        var record = new LayerRecord
        {
            ChainId = chainId.ToString(),
            Parent = index == 0 ? null : chainIds[index - 1].ToString(),
            DiffId = diffId.ToString(),
            LayerDigest = layer.Digest.ToString(),
            SizeBytes = SnapshotCatalog.DiskUsage(tree),
            Created = catalog.Time.GetUtcNow(),
        };
        catalog.PublishLayer(layerDirectory, record);
    }

    private async Task ApplyAsync(string file, Descriptor layer, Digest diffId, string root, CancellationToken cancellationToken)
    {
        var options = new LayerApplyOptions { MaxUncompressedBytes = catalog.Options.MaxUncompressedLayerBytes, MaxEntries = catalog.Options.MaxEntriesPerLayer };
        await using var blob = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.Read, BlobDownloads.CopyBufferSize, FileOptions.SequentialScan);
        await using var uncompressed = LayerStreams.OpenDecompressed(blob, MediaTypes.GetLayerCompression(layer.MediaType), options.MaxUncompressedBytes, leaveOpen: true);
        // The diff ID covers the whole uncompressed stream; a mismatch throws from the read that reaches its end.
        await using var verifying = new VerifyingStream(uncompressed, diffId, expectedSize: -1, $"uncompressed layer {layer.Digest} (config diff_id)", leaveOpen: true);
        await using (var reader = new LayerTarReader(verifying, new LayerTarReaderOptions { MaxEntries = options.MaxEntries }, leaveOpen: true))
        {
            await LayerApplier.ApplyAsync(reader, root, options, cancellationToken).ConfigureAwait(false);
        }

        // Read what follows the end-of-archive marker too, so the whole stream is hashed and checked.
        await verifying.CopyToAsync(Stream.Null, cancellationToken).ConfigureAwait(false);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Warmed {Image} ({Digest}): {Built} layers fetched, {Reused} reused, {Bytes} bytes in {Milliseconds:F0} ms.")]
    private partial void LogWarmed(ImageReference image, Digest digest, int built, int reused, long bytes, double milliseconds);
}

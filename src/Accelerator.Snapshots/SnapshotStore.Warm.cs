using System.Buffers;
using System.Diagnostics;
using Accelerator.Linux;
using Accelerator.Oci.Layers;
using Accelerator.Oci.Model;
using Accelerator.Snapshots.Storage;

namespace Accelerator.Snapshots;

public sealed partial class SnapshotStore
{
    private const int CopyBufferSize = 1 << 20;

    /// <summary>
    /// Prepares <paramref name="image"/> as a snapshot: resolves it through <paramref name="store"/> (a registry, its
    /// mirror set, an OCI layout), downloads the layers the store does not have yet (each verified against its digest,
    /// and its uncompressed content against the config's diff ID), unpacks each onto the layers below it, publishes
    /// each layer and then the snapshot atomically, and evicts what capacity and time-to-live require. Warms of the
    /// same image at once, here or in other processes, share one pull.
    /// </summary>
    /// <remarks>Makes a snapshot of the store's default kind, <see cref="SnapshotStoreOptions.Kind"/> (see the overload naming a kind).</remarks>
    public Task<SnapshotWarmResult> WarmAsync(IImageStore store, ImageReference image, Platform? platform = null, CancellationToken cancellationToken = default)
        => WarmAsync(store, image, _options.Kind, platform, cancellationToken);

    private async Task<SnapshotWarmResult> WarmAsync(IImageStore store, ImageKey key, CancellationToken cancellationToken)
    {
        Digest digest = key.ManifestDigest;
        // One warm per image in this process; the image lock makes it one across processes.
        var task = _warms.GetOrAdd(digest, _ => Task.Run(() => RunWarmAsync(store, key, cancellationToken), CancellationToken.None));
        try
        {
            return await task.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            if (task.IsCompleted)
            {
                _warms.TryRemove(new KeyValuePair<Digest, Task<SnapshotWarmResult>>(digest, task));
            }
        }
    }

    // references: what to record instead of the reference warmed from (an import records only verified ones).
    private async Task<SnapshotWarmResult> RunWarmAsync(IImageStore store, ImageKey key, CancellationToken cancellationToken, IReadOnlyList<string>? references = null)
    {
        var stopwatch = Stopwatch.StartNew();
        Digest digest = key.ManifestDigest;
        using var imageLock = await FileLock.AcquireAsync(ImageLockPath(digest), cancellationToken).ConfigureAwait(false);
        if (TryLoadImage(digest) is { } existing)
        {
            if (existing.Kind != SnapshotKinds.OverlayTree)
            {
                throw new InvalidOperationException($"A snapshot of kind {existing.Kind} of {key.Image} ({digest}) is in {Root}; evict it before warming a tree snapshot.");
            }

            if (references is null)
            {
                await AddReferenceAsync(existing, key.Image, key.Resolved.Root.Digest, cancellationToken).ConfigureAwait(false);
            }

            return new SnapshotWarmResult(Describe(TryLoadImage(digest) ?? existing, LiveMounts()), 0, key.ChainIds.Count, 0, new Dictionary<string, long>(), stopwatch.Elapsed);
        }

        using var staging = await CreateStagingAsync(key.ChainIds, cancellationToken).ConfigureAwait(false);
        int reused = SharedPrefix(key.ChainIds);
        var sources = new Dictionary<string, long>(StringComparer.Ordinal);
        int built = 0;
        if (reused < key.ChainIds.Count)
        {
            built = await BuildLayersAsync(store, key, reused, staging, sources, cancellationToken).ConfigureAwait(false);
        }

        var record = new ImageRecord
        {
            ManifestDigest = digest.ToString(),
            References = references ?? ReferencesOf(key.Image, digest, [], key.Resolved.Root.Digest),
            ChainIds = key.ChainIds.Select(c => c.ToString()).ToArray(),
            DiffIds = key.DiffIds.Select(d => d.ToString()).ToArray(),
            Created = _time.GetUtcNow(),
        };

        using (await LockStoreAsync(cancellationToken).ConfigureAwait(false))
        {
            // The record is written last: a snapshot exists only once every layer under it is published.
            WriteImageRecord(record);
            Touch(digest);
        }

        long fetched = sources.Values.Sum();
        LogWarmed(key.Image, digest, built, key.ChainIds.Count - built, fetched, stopwatch.Elapsed.TotalMilliseconds);
        await PruneAsync(keep: digest, cancellationToken).ConfigureAwait(false);
        var snapshot = Describe(record, LiveMounts());
        return new SnapshotWarmResult(snapshot, built, key.ChainIds.Count - built, fetched, sources, stopwatch.Elapsed);
    }

    private async Task AddReferenceAsync(ImageRecord record, ImageReference image, Digest rootDigest, CancellationToken cancellationToken)
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
    private static string[] ReferencesOf(ImageReference image, Digest manifestDigest, IReadOnlyList<string> existing, Digest? rootDigest)
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

    /// <summary>Downloads layers <paramref name="first"/>.. in parallel and builds them lowest first; returns how many it built.</summary>
    private async Task<int> BuildLayersAsync(IImageStore store, ImageKey key, int first, Staging staging, Dictionary<string, long> sources, CancellationToken cancellationToken)
    {
        var layers = key.Resolved.Layers;
        string blobs = Directory.CreateDirectory(Path.Combine(staging.Path, "blobs")).FullName;
        using var downloads = new CancellationTokenSource();
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, downloads.Token);
        using var slots = new SemaphoreSlim(_options.MaxParallelDownloads);
        string sourceName = key.Image.Kind == ImageReferenceKind.Layout ? "layout" : "origin";
        var files = new Task<string>[layers.Count];
        for (int i = first; i < layers.Count; i++)
        {
            files[i] = DownloadAsync(store.Blobs, BlobAddress.For(key.Image.Repository, layers[i]), blobs, slots, sourceName, sources, linked.Token);
        }

        int built = 0;
        try
        {
            for (int i = first; i < layers.Count; i++)
            {
                string file = await files[i].ConfigureAwait(false);
                Digest chainId = key.ChainIds[i];
                using (await FileLock.AcquireAsync(LayerLockPath(chainId), linked.Token).ConfigureAwait(false))
                {
                    // Another warm sharing this layer may have built it while we downloaded.
                    if (TryLoadLayer(chainId) is null)
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
            var lowers = Enumerable.Range(0, index).Reverse().Select(i => LayerTree(chainIds[i])).ToArray();
            LibC.CopyDirectoryAttributes(lowers[0], tree);
            OverlayMount.Mount(lowers, tree, work, mount);
            try
            {
                await ApplyAsync(blobFile, layer, diffId, mount, cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                OverlayMount.Unmount(mount);
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
            SizeBytes = DiskUsage(tree),
            Created = _time.GetUtcNow(),
        };
        PublishLayer(layerDirectory, record);
    }

    /// <summary>Publishes a finished layer directory: metadata and (when durable) the tree on disk first, then the rename.</summary>
    private void PublishLayer(string layerDirectory, LayerRecord record)
    {
        using (var stream = new FileStream(Path.Combine(layerDirectory, "layer.json"), FileMode.CreateNew, FileAccess.Write))
        {
            System.Text.Json.JsonSerializer.Serialize(stream, record, RecordJson.Default.LayerRecord);
            stream.Flush(flushToDisk: true);
        }

        if (_options.Durable)
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

    private async Task ApplyAsync(string file, Descriptor layer, Digest diffId, string root, CancellationToken cancellationToken)
    {
        var options = new LayerApplyOptions { MaxUncompressedBytes = _options.MaxUncompressedLayerBytes, MaxEntries = _options.MaxEntriesPerLayer };
        await using var blob = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.Read, CopyBufferSize, FileOptions.SequentialScan);
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

    private static async Task<string> DownloadAsync(IBlobSource source, BlobAddress blob, string directory, SemaphoreSlim slots, string sourceName, Dictionary<string, long> sources, CancellationToken cancellationToken)
    {
        await slots.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            string path = Path.Combine(directory, blob.Digest.Encoded);
            if (source is IBlobDownloader downloader)
            {
                // Mirror sets verify before handing bytes on and say which host served them.
                var fetched = await downloader.DownloadToFileAsync(blob, path, null, cancellationToken).ConfigureAwait(false);
                Count(sources, fetched);
                return path;
            }

            byte[] buffer = ArrayPool<byte>.Shared.Rent(CopyBufferSize);
            try
            {
                await using var input = await source.OpenReadAsync(blob, cancellationToken).ConfigureAwait(false);
                await using var verified = new VerifyingStream(input, blob.Digest, blob.Size, blob.ToString(), leaveOpen: true);
                await using var output = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.Read, 1, FileOptions.Asynchronous);
                long done = 0;
                int n;
                while ((n = await verified.ReadAsync(buffer, cancellationToken).ConfigureAwait(false)) > 0)
                {
                    await output.WriteAsync(buffer.AsMemory(0, n), cancellationToken).ConfigureAwait(false);
                    done += n;
                }

                Count(sources, new Dictionary<string, long> { [sourceName] = done });
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }

            return path;
        }
        finally
        {
            slots.Release();
        }
    }

    private static void Count(Dictionary<string, long> sources, IReadOnlyDictionary<string, long> fetched)
    {
        lock (sources)
        {
            foreach (var (name, bytes) in fetched)
            {
                sources[name] = sources.GetValueOrDefault(name) + bytes;
            }
        }
    }

    /// <summary>
    /// A private directory for one warm or import, holding a lock for as long as it lives (so recovery in another
    /// process knows it is not abandoned) and the chain IDs it builds on (so eviction leaves them alone).
    /// </summary>
    private sealed class Staging(SnapshotStore store, string path, FileLock held) : IDisposable
    {
        public string Path { get; } = path;

        public void Dispose()
        {
            try
            {
                foreach (string mount in MountTable.MountPointsUnder(MountTable.Read(), Path))
                {
                    OverlayMount.Unmount(mount);
                }

                store.DeleteTree(Path);
            }
            finally
            {
                held.Dispose();
            }
        }
    }

    private async Task<Staging> CreateStagingAsync(IEnumerable<Digest> uses, CancellationToken cancellationToken)
    {
        using (await LockStoreAsync(cancellationToken).ConfigureAwait(false))
        {
            string path = Directory.CreateDirectory(Path.Combine(StagingDirectory, Guid.NewGuid().ToString("N"))).FullName;
            var held = FileLock.TryAcquire(Path.Combine(path, ".lock")) ?? throw new IOException($"Cannot lock the new staging directory {path}.");
            await File.WriteAllLinesAsync(Path.Combine(path, "uses"), uses.Select(u => u.ToString()), cancellationToken).ConfigureAwait(false);
            return new Staging(this, path, held);
        }
    }
}

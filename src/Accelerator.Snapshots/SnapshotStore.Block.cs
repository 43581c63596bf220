using System.Diagnostics;
using System.Text.Json;
using Accelerator.Block.Conversion;
using Accelerator.Block.Format;
using Accelerator.Block.Mounting;
using Accelerator.Linux;
using Accelerator.Oci.Layout;
using Accelerator.Oci.Model;
using Accelerator.Oci.Resolution;
using Accelerator.Snapshots.Blocks;
using Accelerator.Snapshots.Storage;

namespace Accelerator.Snapshots;

public sealed partial class SnapshotStore
{
    private const string BlockDiskFile = "disk";
    private const string BlockIndexFile = "index";

    /// <summary>
    /// Prepares <paramref name="image"/> as a snapshot of <paramref name="kind"/>. An
    /// <see cref="SnapshotKind.OverlayTree"/> snapshot is built as <see cref="WarmAsync(IImageStore, ImageReference, Platform?, CancellationToken)"/>
    /// describes. A <see cref="SnapshotKind.BlockStack"/> snapshot takes the image's block variant — the reference
    /// itself when it is a block image, else <c>TAG-accel-block</c> beside it — or, when there is none and
    /// <see cref="SnapshotStoreOptions.ConvertMissingBlockImages"/> is set, converts the image locally
    /// (<see cref="BlockConverter"/>, root); then fetches every data blob (verified by digest), decodes every block
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
            var key = await ResolveAsync(store, image, platform, cancellationToken).ConfigureAwait(false);
            return await WarmAsync(store, key, cancellationToken).ConfigureAwait(false);
        }

        var target = await ResolveBlockAsync(store, image, platform, cancellationToken).ConfigureAwait(false);
        var task = _blockWarms.GetOrAdd(target.ManifestDigest, _ => Task.Run(() => RunBlockWarmAsync(store, target, platform, cancellationToken), CancellationToken.None));
        try
        {
            return await task.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            if (task.IsCompleted)
            {
                _blockWarms.TryRemove(new KeyValuePair<Digest, Task<SnapshotWarmResult>>(target.ManifestDigest, task));
            }
        }
    }

    /// <summary>An image to snapshot as a block stack: its own manifest (the key) and the block image to read, if any.</summary>
    private sealed record BlockTarget(ImageReference Image, Digest ManifestDigest, Digest RootDigest, IReadOnlyList<Digest> DiffIds, ImageReference? Variant, ResolvedImage Resolved);

    private static async Task<BlockTarget> ResolveBlockAsync(IImageStore store, ImageReference image, Platform? platform, CancellationToken cancellationToken)
    {
        var resolved = await ImageResolver.ResolveAsync(store, image, platform, cancellationToken).ConfigureAwait(false);
        var diffIds = resolved.Config.Rootfs?.DiffIds ?? [];
        Digest digest = resolved.Manifest.Digest;
        if (BlockImage.IsBlockManifest(resolved.ImageManifest))
        {
            return new BlockTarget(image, digest, resolved.Root.Digest, diffIds, image.WithDigest(digest), resolved);
        }

        if (Accelerator.Chunks.Images.AcceleratedImageFormat.IsAccelerated(resolved.ImageManifest))
        {
            throw new NotSupportedException($"{image} is an accelerated (lazy) image; warm its source image instead.");
        }

        // The variant beside a tag, as the block mounter finds it (Accelerator.Oci.Resolution.AcceleratedVariant's rule).
        if (image.Tag is { } tag && image.Digest is null && !tag.EndsWith(BlockFormat.TagSuffix, StringComparison.Ordinal))
        {
            var variant = BlockConverter.DefaultTarget(image);
            try
            {
                var candidate = await ImageResolver.ResolveAsync(store, variant, platform, cancellationToken).ConfigureAwait(false);
                // Only the conversion of this very manifest: a stale variant, or one converted from another image, would
                // be snapshotted (and its file system mounted) under this image's digest.
                if (BlockImage.IsBlockManifest(candidate.ImageManifest)
                    && candidate.ImageManifest.Annotations?.GetValueOrDefault(BlockFormat.SourceDigestAnnotation) == digest.ToString())
                {
                    return new BlockTarget(image, digest, resolved.Root.Digest, diffIds, variant.WithDigest(candidate.Manifest.Digest), resolved);
                }
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                throw;
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                // No variant (not found, or not readable): converted locally, or refused, by the warm.
            }
        }

        return new BlockTarget(image, digest, resolved.Root.Digest, diffIds, null, resolved);
    }

    private async Task<SnapshotWarmResult> RunBlockWarmAsync(IImageStore store, BlockTarget target, Platform? platform, CancellationToken cancellationToken)
    {
        var stopwatch = Stopwatch.StartNew();
        Digest digest = target.ManifestDigest;
        using var imageLock = await FileLock.AcquireAsync(ImageLockPath(digest), cancellationToken).ConfigureAwait(false);
        if (TryLoadImage(digest) is { } existing)
        {
            if (existing.Kind != SnapshotKinds.BlockStack)
            {
                throw new InvalidOperationException($"A snapshot of kind {existing.Kind} of {target.Image} ({digest}) is in {Root}; evict it before warming a block-stack snapshot.");
            }

            await AddReferenceAsync(existing, target.Image, target.RootDigest, cancellationToken).ConfigureAwait(false);
            return new SnapshotWarmResult(Describe(TryLoadImage(digest) ?? existing, LiveMounts()), 0, 1, 0, new Dictionary<string, long>(), stopwatch.Elapsed);
        }

        using var staging = await CreateStagingAsync([], cancellationToken).ConfigureAwait(false);
        var sources = new Dictionary<string, long>(StringComparer.Ordinal);
        BlockImage blockImage;
        IImageStore blockStore;
        string origin;
        if (target.Variant is { } variant)
        {
            blockStore = store;
            blockImage = await BlockImage.LoadAsync(store, variant, platform, cancellationToken).ConfigureAwait(false);
            origin = variant.ToString();
        }
        else if (_options.ConvertMissingBlockImages)
        {
            string layoutDirectory = Path.Combine(staging.Path, "converted");
            var layout = OciImageLayout.Create(layoutDirectory);
            var converted = ImageReference.Parse($"oci:{layoutDirectory}:block");
            var conversion = await BlockConverter.ConvertAsync(
                store, target.Image.WithDigest(digest), layout, converted,
                new BlockConvertOptions { Platform = platform, TempDirectory = staging.Path }, cancellationToken).ConfigureAwait(false);
            Count(sources, new Dictionary<string, long> { [target.Image.Kind == ImageReferenceKind.Layout ? "layout" : "origin"] = conversion.SourceLayerBytes });
            blockStore = layout;
            blockImage = await BlockImage.LoadAsync(layout, converted, platform, cancellationToken).ConfigureAwait(false);
            origin = "converted";
        }
        else
        {
            throw new InvalidOperationException($"{target.Image} has no block image ({BlockFormat.TagSuffix} variant) and local conversion is off.");
        }

        Digest key = blockImage.IndexDigest;
        // The layer this warm builds on is listed with the staging directory, so eviction leaves it alone meanwhile.
        await File.AppendAllLinesAsync(Path.Combine(staging.Path, "uses"), [key.ToString()], cancellationToken).ConfigureAwait(false);
        int built = 0;
        using (await FileLock.AcquireAsync(LayerLockPath(key), cancellationToken).ConfigureAwait(false))
        {
            if (TryLoadLayer(key) is not { Kind: LayerKinds.Block })
            {
                await BuildBlockLayerAsync(staging, blockStore, blockImage, target.Variant is null ? "layout" : SourceName(target.Image), sources, cancellationToken).ConfigureAwait(false);
                built = 1;
            }
        }

        var record = new ImageRecord
        {
            Kind = SnapshotKinds.BlockStack,
            ManifestDigest = digest.ToString(),
            References = ReferencesOf(target.Image, digest, [], target.RootDigest),
            ChainIds = [key.ToString()],
            DiffIds = target.DiffIds.Select(d => d.ToString()).ToArray(),
            BlockImage = origin,
            Provenance = new BlockProvenance
            {
                Manifest = target.Resolved.Manifest.Bytes.ToArray(),
                Config = target.Resolved.ConfigBytes.ToArray(),
                VariantManifest = blockImage.Image.Manifest.Bytes.ToArray(),
            },
            Created = _time.GetUtcNow(),
        };
        using (await LockStoreAsync(cancellationToken).ConfigureAwait(false))
        {
            WriteImageRecord(record);
            Touch(digest);
        }

        long fetched = sources.Values.Sum();
        LogWarmed(target.Image, digest, built, 1 - built, fetched, stopwatch.Elapsed.TotalMilliseconds);
        await PruneAsync(keep: digest, cancellationToken).ConfigureAwait(false);
        return new SnapshotWarmResult(Describe(record, LiveMounts()), built, 1 - built, fetched, sources, stopwatch.Elapsed);
    }

    private static string SourceName(ImageReference image) => image.Kind == ImageReferenceKind.Layout ? "layout" : "origin";

    /// <summary>
    /// Materialises a block image's stack as one layer directory: the index blob (verified by its digest) and a sparse
    /// disk file holding every block the flattened stack reads as, each decoded from its verified data blob and checked
    /// against its own digest; then published like a tree layer.
    /// </summary>
    private async Task BuildBlockLayerAsync(Staging staging, IImageStore store, BlockImage image, string sourceName, Dictionary<string, long> sources, CancellationToken cancellationToken)
    {
        var index = image.Index;
        string repository = image.Reference.Repository;
        string layerDirectory = Directory.CreateDirectory(Path.Combine(staging.Path, "block-layer")).FullName;
        string blobs = Directory.CreateDirectory(Path.Combine(staging.Path, "block-blobs")).FullName;

        var indexLayer = image.Image.ImageManifest.Layers[0];
        byte[] indexBytes = await store.Blobs.ReadAllBytesAsync(BlobAddress.For(repository, indexLayer), BlockFormat.MaxIndexBodyBytes, cancellationToken).ConfigureAwait(false);
        if (Digest.Compute(indexBytes) != image.IndexDigest)
        {
            throw new DigestMismatchException(image.IndexDigest, Digest.Compute(indexBytes).ToString(), $"block index of {image.Reference}");
        }

        await File.WriteAllBytesAsync(Path.Combine(layerDirectory, BlockIndexFile), indexBytes, cancellationToken).ConfigureAwait(false);

        // Which disk blocks each stored block fills (deduplicated blocks fill several), grouped by data blob.
        int[] map = index.CreateBlockMap();
        var targets = new List<long>?[index.StoredBlockCount];
        for (long block = 0; block < map.Length; block++)
        {
            if (map[block] >= 0)
            {
                (targets[map[block]] ??= []).Add(block);
            }
        }

        var byBlob = Enumerable.Range(0, index.Blobs.Count).Select(_ => new List<int>()).ToArray();
        for (int stored = 0; stored < targets.Length; stored++)
        {
            if (targets[stored] is not null)
            {
                byBlob[index.GetStoredBlock(stored).Blob].Add(stored);
            }
        }

        string diskPath = Path.Combine(layerDirectory, BlockDiskFile);
        using (var disk = File.OpenHandle(diskPath, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, FileOptions.Asynchronous))
        {
            RandomAccess.SetLength(disk, index.DiskSize);
            using var slots = new SemaphoreSlim(_options.MaxParallelDownloads);
            await Parallel.ForEachAsync(
                Enumerable.Range(0, index.Blobs.Count).Where(b => byBlob[b].Count > 0),
                new ParallelOptions { MaxDegreeOfParallelism = _options.MaxParallelDownloads, CancellationToken = cancellationToken },
                async (blob, ct) =>
                {
                    var descriptor = new Descriptor(BlockFormat.BlocksMediaType, index.Blobs[blob].Digest, index.Blobs[blob].Size);
                    string file = await DownloadAsync(store.Blobs, BlobAddress.For(repository, descriptor), blobs, slots, sourceName, sources, ct).ConfigureAwait(false);
                    await DecodeBlobAsync(index, byBlob[blob], targets, file, disk, ct).ConfigureAwait(false);
                    File.Delete(file);
                }).ConfigureAwait(false);
            if (_options.Durable)
            {
                RandomAccess.FlushToDisk(disk);
            }
        }

        PublishLayer(layerDirectory, new LayerRecord
        {
            Kind = LayerKinds.Block,
            ChainId = image.IndexDigest.ToString(),
            DiffId = image.IndexDigest.ToString(),
            LayerDigest = image.Image.Manifest.Digest.ToString(),
            SizeBytes = DiskUsage(layerDirectory),
            Created = _time.GetUtcNow(),
        });
    }

    private static async Task DecodeBlobAsync(BlockIndex index, List<int> storedBlocks, List<long>?[] targets, string blobFile, Microsoft.Win32.SafeHandles.SafeFileHandle disk, CancellationToken cancellationToken)
    {
        using var input = File.OpenHandle(blobFile, FileMode.Open, FileAccess.Read, FileShare.Read, FileOptions.Asynchronous);
        byte[] compressed = new byte[BlockFormat.MaxBlockSize + 1024];
        byte[] content = new byte[BlockFormat.MaxBlockSize];
        foreach (int stored in storedBlocks)
        {
            var block = index.GetStoredBlock(stored);
            if (block.CompressedLength > compressed.Length)
            {
                throw new InvalidDataException($"Block {block.Digest} is stored in {block.CompressedLength} bytes, more than a block may take.");
            }

            var source = compressed.AsMemory(0, block.CompressedLength);
            int n = 0;
            while (n < source.Length)
            {
                int read = await RandomAccess.ReadAsync(input, source[n..], block.CompressedOffset + n, cancellationToken).ConfigureAwait(false);
                if (read == 0)
                {
                    throw new InvalidDataException($"The data blob {index.Blobs[block.Blob].Digest} ends before block {block.Digest}.");
                }

                n += read;
            }

            // Decoding checks the block against its digest: nothing unverified reaches the disk file.
            var output = content.AsMemory(0, block.UncompressedLength);
            BlockCodec.Decode(source.Span, block, output.Span);
            foreach (long target in targets[stored]!)
            {
                await RandomAccess.WriteAsync(disk, output, target * index.BlockSize, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Clones a block-stack snapshot: its verified disk mounted through FUSE, a loop device and read-only ext4, with an overlay upper directory for writes.</summary>
    private async Task<SnapshotMountedImage> CloneBlockAsync(ImageRecord record, ImageReference image, string mountPoint, bool readOnly, long started, SnapshotWarmResult? warm, CancellationToken cancellationToken)
    {
        Digest digest = Digest.Parse(record.ManifestDigest);
        Digest key = Digest.Parse(record.ChainIds[0]);
        string directory = Path.Combine(MountsDirectory, Guid.NewGuid().ToString("N"));
        FileLock registering;
        using (await LockStoreAsync(cancellationToken).ConfigureAwait(false))
        {
            if (TryLoadImage(digest) is null)
            {
                throw new SnapshotNotFoundException($"The snapshot of {image} ({digest}) is no longer valid or was evicted.");
            }

            Directory.CreateDirectory(directory);
            registering = FileLock.TryAcquire(Path.Combine(directory, ".lock")) ?? throw new IOException($"Cannot lock {directory}.");
            var mountRecord = new MountRecord { ManifestDigest = record.ManifestDigest, Target = mountPoint, ChainIds = record.ChainIds, Created = _time.GetUtcNow() };
            File.WriteAllBytes(Path.Combine(directory, "mount.json"), JsonSerializer.SerializeToUtf8Bytes(mountRecord, RecordJson.Default.MountRecord));
            Touch(digest);
        }

        BlockMountedImage block;
        try
        {
            BlockSnapshotDisk disk;
            try
            {
                disk = BlockSnapshotDisk.Open(LayerPath(key), BlockDiskFile, BlockIndexFile, key);
            }
            catch (InvalidDataException ex)
            {
                throw new SnapshotNotFoundException($"The block snapshot of {image} ({digest}) is corrupt: {ex.Message}");
            }

            var mounter = new BlockMounter([], new BlockMountOptions { StateDirectory = directory }, timeProvider: _time);
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

        registering.Dispose();
        LogMounted(image, digest, mountPoint, 1, statistics.TimeToReady.TotalMilliseconds);
        return new SnapshotMountedImage(this, image, digest, mountPoint, directory, readOnly, statistics, block);
    }
}

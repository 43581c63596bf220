using System.Diagnostics;
using Accelerator.Block.Conversion;
using Accelerator.Block.Format;
using Accelerator.Block.Mounting;
using Accelerator.Linux;
using Accelerator.Oci.Layout;
using Accelerator.Oci.Model;
using Accelerator.Oci.Resolution;
using Accelerator.Snapshots.Catalog;
using Accelerator.Snapshots.Eviction;
using Accelerator.Snapshots.Storage;
using Microsoft.Extensions.Logging;

namespace Accelerator.Snapshots.Warming;

/// <summary>
/// Warms block-stack snapshots: takes the image's block variant (the reference itself when it is a block image, else
/// <c>TAG-accel-block</c> beside it) or converts the image locally when allowed, fetches every data blob (verified by
/// digest), decodes every block (verified against the index) into one flattened disk file, and publishes it with the
/// index as one layer keyed by the index digest; then the snapshot record, keyed by the image's manifest digest.
/// </summary>
internal sealed partial class BlockSnapshotWarmer(SnapshotCatalog catalog, SnapshotEvictor evictor, ILogger logger)
{
    private readonly ILogger _logger = logger;

    // Block-stack warms in this process, apart from tree warms: a warm of one kind never hands its result to the other.
    private readonly RunningWarms _blockWarms = new();

    /// <summary>The warms of this kind running in this process.</summary>
    public RunningWarms Running => _blockWarms;

    /// <summary>
    /// Warms a block-stack snapshot of <paramref name="image"/>, joining a block warm of the same manifest already
    /// running in this process (see <see cref="SnapshotStore.WarmAsync(IImageStore, ImageReference, SnapshotKind, Platform?, CancellationToken)"/>).
    /// </summary>
    public async Task<SnapshotWarmResult> WarmAsync(IImageStore store, ImageReference image, Platform? platform, CancellationToken cancellationToken)
    {
        var target = await ResolveBlockAsync(store, image, platform, cancellationToken).ConfigureAwait(false);
        return await _blockWarms.JoinOrStartAsync(target.ManifestDigest, () => RunBlockWarmAsync(store, target, platform, cancellationToken), cancellationToken).ConfigureAwait(false);
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
        using var imageLock = await FileLock.AcquireAsync(catalog.ImageLockPath(digest), cancellationToken).ConfigureAwait(false);
        if (catalog.TryLoadImage(digest) is { } existing)
        {
            if (existing.Kind != SnapshotKinds.BlockStack)
            {
                throw new InvalidOperationException($"A snapshot of kind {existing.Kind} of {target.Image} ({digest}) is in {catalog.Root}; evict it before warming a block-stack snapshot.");
            }

            await catalog.AddReferenceAsync(existing, target.Image, target.RootDigest, cancellationToken).ConfigureAwait(false);
            return new SnapshotWarmResult(catalog.Describe(catalog.TryLoadImage(digest) ?? existing), 0, 1, 0, new Dictionary<string, long>(), stopwatch.Elapsed);
        }

        using var staging = await catalog.CreateStagingAsync([], cancellationToken).ConfigureAwait(false);
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
        else if (catalog.Options.ConvertMissingBlockImages)
        {
            string layoutDirectory = Path.Combine(staging.Path, "converted");
            var layout = OciImageLayout.Create(layoutDirectory);
            var converted = ImageReference.Parse($"oci:{layoutDirectory}:block");
            var conversion = await BlockConverter.ConvertAsync(
                store, target.Image.WithDigest(digest), layout, converted,
                new BlockConvertOptions { Platform = platform, TempDirectory = staging.Path }, cancellationToken).ConfigureAwait(false);
            BlobDownloads.Count(sources, new Dictionary<string, long> { [target.Image.Kind == ImageReferenceKind.Layout ? "layout" : "origin"] = conversion.SourceLayerBytes });
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
        await staging.AddUseAsync(key, cancellationToken).ConfigureAwait(false);
        int built = 0;
        using (await FileLock.AcquireAsync(catalog.LayerLockPath(key), cancellationToken).ConfigureAwait(false))
        {
            if (catalog.TryLoadLayer(key) is not { Kind: LayerKinds.Block })
            {
                await BuildBlockLayerAsync(staging, blockStore, blockImage, target.Variant is null ? "layout" : SourceName(target.Image), sources, cancellationToken).ConfigureAwait(false);
                built = 1;
            }
        }

        var record = new ImageRecord
        {
            Kind = SnapshotKinds.BlockStack,
            ManifestDigest = digest.ToString(),
            References = SnapshotCatalog.ReferencesOf(target.Image, digest, [], target.RootDigest),
            ChainIds = [key.ToString()],
            DiffIds = target.DiffIds.Select(d => d.ToString()).ToArray(),
            BlockImage = origin,
            Provenance = new BlockProvenance
            {
                Manifest = target.Resolved.Manifest.Bytes.ToArray(),
                Config = target.Resolved.ConfigBytes.ToArray(),
                VariantManifest = blockImage.Image.Manifest.Bytes.ToArray(),
            },
            Created = catalog.Time.GetUtcNow(),
        };
        await catalog.PublishImageAsync(record, cancellationToken).ConfigureAwait(false);

        long fetched = sources.Values.Sum();
        LogWarmed(target.Image, digest, built, 1 - built, fetched, stopwatch.Elapsed.TotalMilliseconds);
        await evictor.PruneAsync(keep: digest, cancellationToken).ConfigureAwait(false);
        return new SnapshotWarmResult(catalog.Describe(record), built, 1 - built, fetched, sources, stopwatch.Elapsed);
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

        await File.WriteAllBytesAsync(Path.Combine(layerDirectory, SnapshotCatalog.BlockIndexFile), indexBytes, cancellationToken).ConfigureAwait(false);

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

        string diskPath = Path.Combine(layerDirectory, SnapshotCatalog.BlockDiskFile);
        using (var disk = File.OpenHandle(diskPath, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, FileOptions.Asynchronous))
        {
            RandomAccess.SetLength(disk, index.DiskSize);
            using var slots = new SemaphoreSlim(catalog.Options.MaxParallelDownloads);
            await Parallel.ForEachAsync(
                Enumerable.Range(0, index.Blobs.Count).Where(b => byBlob[b].Count > 0),
                new ParallelOptions { MaxDegreeOfParallelism = catalog.Options.MaxParallelDownloads, CancellationToken = cancellationToken },
                async (blob, ct) =>
                {
                    var descriptor = new Descriptor(BlockFormat.BlocksMediaType, index.Blobs[blob].Digest, index.Blobs[blob].Size);
                    string file = await BlobDownloads.DownloadAsync(store.Blobs, BlobAddress.For(repository, descriptor), blobs, slots, sourceName, sources, ct).ConfigureAwait(false);
                    await DecodeBlobAsync(index, byBlob[blob], targets, file, disk, ct).ConfigureAwait(false);
                    File.Delete(file);
                }).ConfigureAwait(false);
            if (catalog.Options.Durable)
            {
                RandomAccess.FlushToDisk(disk);
            }
        }

        catalog.PublishLayer(layerDirectory, new LayerRecord
        {
            Kind = LayerKinds.Block,
            ChainId = image.IndexDigest.ToString(),
            DiffId = image.IndexDigest.ToString(),
            LayerDigest = image.Image.Manifest.Digest.ToString(),
            SizeBytes = SnapshotCatalog.DiskUsage(layerDirectory),
            Created = catalog.Time.GetUtcNow(),
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

    [LoggerMessage(Level = LogLevel.Information, Message = "Warmed {Image} ({Digest}): {Built} layers fetched, {Reused} reused, {Bytes} bytes in {Milliseconds:F0} ms.")]
    private partial void LogWarmed(ImageReference image, Digest digest, int built, int reused, long bytes, double milliseconds);
}

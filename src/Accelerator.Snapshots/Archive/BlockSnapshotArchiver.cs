using System.Formats.Tar;
using Accelerator.Block.Format;
using Accelerator.Oci.Model;
using Accelerator.Oci.Resolution;
using Accelerator.Snapshots.Blocks;
using Accelerator.Snapshots.Catalog;
using Accelerator.Snapshots.Eviction;
using Accelerator.Snapshots.Storage;
using static Accelerator.Snapshots.Archive.SnapshotArchiveFormat;

namespace Accelerator.Snapshots.Archive;

/// <summary>
/// Exports and imports block-stack snapshots: the disk's stored blocks once each, the index and the manifests that
/// bind them to the image; an import checks that chain from the verified manifest digest to every byte of the disk.
/// </summary>
internal sealed class BlockSnapshotArchiver(SnapshotCatalog catalog, SnapshotEvictor evictor)
{
    /// <summary>
    /// Writes a block-stack snapshot: <c>snapshot.json</c> (kind <c>block-stack</c>, a <c>block</c> object), the image's
    /// manifest and config, the block variant's manifest, <c>block/index</c>, then <c>block/data</c> — every stored block the stack reads, once, in stored-block order, each
    /// read through the verifying disk (a corrupt block fails the export).
    /// </summary>
    public async Task<Descriptor> ExportAsync(ImageRecord record, Staging staging, Stream destination, CancellationToken cancellationToken)
    {
        var provenance = record.Provenance
            ?? throw new InvalidOperationException($"The block snapshot of {record.ManifestDigest} was made before archives carried the manifests that bind it to its image; evict it and warm it again to export it.");
        Digest key = Digest.Parse(record.ChainIds[0]);
        string layer = catalog.LayerPath(key);
        string data = Path.Combine(staging.Path, "block-data");
        long dataSize = 0;
        await using (var disk = BlockSnapshotDisk.Open(layer, SnapshotCatalog.BlockDiskFile, SnapshotCatalog.BlockIndexFile, key))
        await using (var output = new FileStream(data, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16))
        {
            var (index, firstBlock) = ReferencedBlocks(File.ReadAllBytes(Path.Combine(layer, SnapshotCatalog.BlockIndexFile)));
            byte[] buffer = new byte[index.BlockSize];
            for (int stored = 0; stored < firstBlock.Length; stored++)
            {
                if (firstBlock[stored] >= 0)
                {
                    var content = buffer.AsMemory(0, index.GetStoredBlock(stored).UncompressedLength);
                    await disk.ReadAsync(firstBlock[stored] * index.BlockSize, content, cancellationToken).ConfigureAwait(false);
                    await output.WriteAsync(content, cancellationToken).ConfigureAwait(false);
                    dataSize += content.Length;
                }
            }
        }

        string indexPath = Path.Combine(layer, SnapshotCatalog.BlockIndexFile);
        var header = new SnapshotArchiveHeader
        {
            Kind = SnapshotKinds.BlockStack,
            ManifestDigest = record.ManifestDigest,
            References = record.References,
            Block = new SnapshotArchiveBlock
            {
                IndexDigest = key.ToString(),
                IndexSize = new FileInfo(indexPath).Length,
                DataSize = dataSize,
                DiffIds = record.DiffIds,
                BlockImage = record.BlockImage,
            },
        };
        return await WriteArchiveAsync(destination, header, provenance.Manifest, provenance.Config, async writer =>
        {
            await writer.WriteEntryAsync(new PaxTarEntry(TarEntryType.RegularFile, BlockManifestEntry) { DataStream = new MemoryStream(provenance.VariantManifest) }, cancellationToken).ConfigureAwait(false);
            await using (var index = new FileStream(indexPath, FileMode.Open, FileAccess.Read, FileShare.Read))
            {
                await writer.WriteEntryAsync(new PaxTarEntry(TarEntryType.RegularFile, BlockIndexEntry) { DataStream = index }, cancellationToken).ConfigureAwait(false);
            }

            await using var blocks = new FileStream(data, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.SequentialScan);
            await writer.WriteEntryAsync(new PaxTarEntry(TarEntryType.RegularFile, BlockDataEntry) { DataStream = blocks }, cancellationToken).ConfigureAwait(false);
        }, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Imports a block-stack snapshot. The chain from the verified manifest to every byte of the disk: the block variant's
    /// manifest must be a block image that names the manifest as its source (<see cref="BlockFormat.SourceDigestAnnotation"/>),
    /// keeps its config, and lists the index as its first layer; the index must hash to that digest (and be read by the
    /// bounded index reader); every block of the data must hash to the index's digest for it before it is written.
    /// </summary>
    public async Task<SnapshotInfo> ImportAsync(
        SnapshotArchiveHeader header, SnapshotArchiveBlock block, VerifiedImage image, string[] references, TarReader reader, Staging staging, CancellationToken cancellationToken)
    {
        Digest manifestDigest = Digest.Parse(header.ManifestDigest);
        Digest key = Digest.Parse(block.IndexDigest);
        var variantEntry = await NextEntryAsync(reader, BlockManifestEntry, null, ManifestDocument.MaxSize, cancellationToken).ConfigureAwait(false);
        byte[] variantBytes = new byte[variantEntry.Length];
        await variantEntry.DataStream!.ReadExactlyAsync(variantBytes, cancellationToken).ConfigureAwait(false);
        CheckVariant(variantBytes, manifestDigest, image.Resolved, key);
        var diffIds = (image.Resolved.Config.Rootfs?.DiffIds ?? []).Select(d => d.ToString()).ToArray();

        using var imageLock = await FileLock.AcquireAsync(catalog.ImageLockPath(manifestDigest), cancellationToken).ConfigureAwait(false);
        if (catalog.TryLoadImage(manifestDigest) is { Kind: not SnapshotKinds.BlockStack })
        {
            throw new InvalidOperationException($"A tree snapshot of {manifestDigest} is in {catalog.Root}; evict it before importing a block-stack snapshot of it.");
        }

        await staging.AddUseAsync(key, cancellationToken).ConfigureAwait(false);
        var indexEntry = await NextEntryAsync(reader, BlockIndexEntry, block.IndexSize, cancellationToken).ConfigureAwait(false);
        byte[] indexBytes = new byte[block.IndexSize];
        await indexEntry.DataStream!.ReadExactlyAsync(indexBytes, cancellationToken).ConfigureAwait(false);
        if (Digest.Compute(indexBytes) != key)
        {
            throw new DigestMismatchException(key, Digest.Compute(indexBytes).ToString(), "block/index of the snapshot archive");
        }

        BlockIndex index;
        long[] first;
        try
        {
            (index, first) = ReferencedBlocks(indexBytes);
        }
        catch (Exception ex) when (ex is InvalidDataException or FormatException)
        {
            throw new InvalidDataException($"The block index of the snapshot archive is invalid: {ex.Message}", ex);
        }

        long expected = Enumerable.Range(0, first.Length).Where(s => first[s] >= 0).Sum(s => (long)index.GetStoredBlock(s).UncompressedLength);
        if (expected != block.DataSize)
        {
            throw new InvalidDataException($"The snapshot archive's header says {block.DataSize} data bytes; its index needs {expected}.");
        }

        var dataEntry = await NextEntryAsync(reader, BlockDataEntry, block.DataSize, cancellationToken).ConfigureAwait(false);
        using (await FileLock.AcquireAsync(catalog.LayerLockPath(key), cancellationToken).ConfigureAwait(false))
        {
            if (catalog.TryLoadLayer(key) is not { Kind: LayerKinds.Block })
            {
                string layerDirectory = Directory.CreateDirectory(Path.Combine(staging.Path, "block-layer")).FullName;
                await File.WriteAllBytesAsync(Path.Combine(layerDirectory, SnapshotCatalog.BlockIndexFile), indexBytes, cancellationToken).ConfigureAwait(false);
                await WriteImportedDiskAsync(index, first, dataEntry.DataStream!, Path.Combine(layerDirectory, SnapshotCatalog.BlockDiskFile), cancellationToken).ConfigureAwait(false);
                catalog.PublishLayer(layerDirectory, new LayerRecord
                {
                    Kind = LayerKinds.Block,
                    ChainId = key.ToString(),
                    DiffId = key.ToString(),
                    SizeBytes = SnapshotCatalog.DiskUsage(layerDirectory),
                    Created = catalog.Time.GetUtcNow(),
                });
            }
        }

        var record = new ImageRecord
        {
            Kind = SnapshotKinds.BlockStack,
            ManifestDigest = header.ManifestDigest,
            References = references,
            ChainIds = [key.ToString()],
            DiffIds = diffIds,
            BlockImage = $"imported@{Digest.Compute(variantBytes)}",
            Provenance = new BlockProvenance
            {
                Manifest = image.Resolved.Manifest.Bytes.ToArray(),
                Config = image.Resolved.ConfigBytes.ToArray(),
                VariantManifest = variantBytes,
            },
            Created = catalog.Time.GetUtcNow(),
        };
        await catalog.PublishImageAsync(record, cancellationToken).ConfigureAwait(false);

        await evictor.PruneAsync(keep: manifestDigest, cancellationToken).ConfigureAwait(false);
        return catalog.Describe(record);
    }

    // The variant binds the index to the image: it says which manifest it was converted from, carries that image's
    // config, and lists the index. Whether the conversion was faithful is trusted to whoever made the variant, exactly as
    // a block mount from the registry trusts TAG-accel-block; what an archive can no longer do is pair one image's
    // digest with another image's disk, or an index with a variant that does not list it.
    private static void CheckVariant(byte[] variantBytes, Digest manifestDigest, ResolvedImage image, Digest indexDigest)
    {
        ImageManifest? variant;
        try
        {
            variant = ManifestDocument.Parse(variantBytes).Manifest;
        }
        catch (Exception ex) when (ex is FormatException or ContentTooLargeException)
        {
            throw new InvalidDataException($"block/manifest.json of the snapshot archive is not a manifest: {ex.Message}", ex);
        }

        if (variant is null || !BlockImage.IsBlockManifest(variant))
        {
            throw new InvalidDataException("block/manifest.json of the snapshot archive is not a block image manifest.");
        }

        string? source = variant.Annotations?.GetValueOrDefault(BlockFormat.SourceDigestAnnotation);
        if (BlockImage.IsBlockManifest(image.ImageManifest))
        {
            // The snapshot of a block image itself: the variant is that manifest.
            if (Digest.Compute(variantBytes) != manifestDigest)
            {
                throw new InvalidDataException($"The snapshot archive's block manifest is not the image {manifestDigest} it claims.");
            }
        }
        else if (source != manifestDigest.ToString())
        {
            throw new InvalidDataException($"The snapshot archive's block image was converted from {source ?? "an unnamed image"}, not from {manifestDigest}.");
        }

        if (variant.Config.Digest != image.ImageManifest.Config.Digest)
        {
            throw new InvalidDataException($"The snapshot archive's block image has config {variant.Config.Digest}; the image {manifestDigest} has {image.ImageManifest.Config.Digest}.");
        }

        if (variant.Layers[0].Digest != indexDigest)
        {
            throw new InvalidDataException($"The snapshot archive's block index {indexDigest} is not the index its block image lists ({variant.Layers[0].Digest}).");
        }
    }

    private async Task WriteImportedDiskAsync(BlockIndex index, long[] first, Stream data, string path, CancellationToken cancellationToken)
    {
        int[] map = index.CreateBlockMap();
        using var disk = File.OpenHandle(path, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, FileOptions.Asynchronous);
        RandomAccess.SetLength(disk, index.DiskSize);
        byte[] buffer = new byte[index.BlockSize];
        for (int stored = 0; stored < first.Length; stored++)
        {
            if (first[stored] < 0)
            {
                continue;
            }

            var expected = index.GetStoredBlock(stored);
            var content = buffer.AsMemory(0, expected.UncompressedLength);
            await data.ReadExactlyAsync(content, cancellationToken).ConfigureAwait(false);
            if (Digest.Compute(content.Span) != expected.Digest)
            {
                throw new DigestMismatchException(expected.Digest, Digest.Compute(content.Span).ToString(), $"stored block {stored} of the snapshot archive");
            }

            await RandomAccess.WriteAsync(disk, content, first[stored] * index.BlockSize, cancellationToken).ConfigureAwait(false);
        }

        // Deduplicated blocks: every other disk block reading as a stored block gets a copy of it.
        for (long block = 0; block < map.Length; block++)
        {
            if (map[block] >= 0 && first[map[block]] != block)
            {
                var content = buffer.AsMemory(0, index.GetStoredBlock(map[block]).UncompressedLength);
                await RandomAccess.ReadAsync(disk, content, first[map[block]] * index.BlockSize, cancellationToken).ConfigureAwait(false);
                await RandomAccess.WriteAsync(disk, content, block * index.BlockSize, cancellationToken).ConfigureAwait(false);
            }
        }

        if (catalog.Options.Durable)
        {
            RandomAccess.FlushToDisk(disk);
        }
    }
}

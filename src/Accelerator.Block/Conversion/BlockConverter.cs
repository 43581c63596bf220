using System.ComponentModel.DataAnnotations;
using System.Diagnostics;
using Accelerator.Chunks.Images;
using Accelerator.Block.Format;
using Accelerator.Linux;
using Accelerator.Oci.Model;
using Accelerator.Oci.Pulling;
using Accelerator.Oci.Resolution;
using Accelerator.Oci.Validation;
using Microsoft.Extensions.Options;

namespace Accelerator.Block.Conversion;

/// <summary>
/// Converts an image into a block image: the layers are pulled and applied to a staging tree with the foundation's
/// puller (whiteouts, owners, modes, xattrs, devices, hardlinks kept — run as root), a file system is built from the
/// tree (<see cref="FileSystemImageBuilder"/>, checked with <c>e2fsck</c>), cut into blocks
/// (<see cref="BlockImageWriter"/>), and pushed with the source config as <c>TAG-accel-block</c>. The same source
/// gives byte-identical output (ext4).
/// </summary>
public static class BlockConverter
{
    /// <summary>The conventional target of <paramref name="source"/>: the same repository (or layout), tag <c>TAG-accel-block</c>.</summary>
    /// <exception cref="ArgumentException">The source names no tag.</exception>
    public static ImageReference DefaultTarget(ImageReference source) => BlockFormat.ImageFormat.VariantOf(source);

    /// <summary>Converts <paramref name="sourceImage"/> into a block image at <paramref name="targetImage"/>.</summary>
    /// <param name="source">Where the source image is.</param>
    /// <param name="sourceImage">The source image (a tag or digest; an index is resolved for <see cref="BlockConvertOptions.Platform"/>).</param>
    /// <param name="target">Where to write the block image.</param>
    /// <param name="targetImage">The target; it must name a tag.</param>
    /// <param name="options">File system, block size, free space, prefetch trace; defaults when null.</param>
    /// <param name="cancellationToken">Cancels the conversion.</param>
    /// <exception cref="InvalidDataException">The source is already an accelerated image, or a layer is malformed.</exception>
    /// <exception cref="InvalidOperationException">mke2fs/mkfs.erofs or e2fsck failed.</exception>
    /// <exception cref="UnauthorizedAccessException">The process is not root.</exception>
    public static async Task<BlockConvertResult> ConvertAsync(
        IImageStore source, ImageReference sourceImage, IImageStore target, ImageReference targetImage,
        BlockConvertOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(sourceImage);
        ArgumentNullException.ThrowIfNull(target);
        ArgumentNullException.ThrowIfNull(targetImage);
        options ??= new BlockConvertOptions();
        new BlockConvertOptionsValidator().ThrowIfOutOfRange(options, "block convert");
        string tag = targetImage.Tag ?? throw new ArgumentException($"The target {targetImage} must name a tag.", nameof(targetImage));
        if (!Environment.IsPrivilegedProcess)
        {
            // Without root the staging tree loses owners and device nodes, and the file system would silently differ.
            throw new UnauthorizedAccessException("Converting to a block image keeps owners and device nodes in a staging tree; run it as root.");
        }

        var clock = Stopwatch.StartNew();

        ResolvedImage resolved = await AcceleratedImageResolver.ResolveAsync(source, sourceImage, options.Platform, cancellationToken).ConfigureAwait(false);
        if (AcceleratedImageFormat.IsAccelerated(resolved.ImageManifest))
        {
            throw new InvalidDataException($"{sourceImage} is already an accelerated image.");
        }

        // 0700: the unpacked tree inside holds the image's set-user-ID files while the disk is built.
        string work = PrivateDirectory.CreateUnique(options.TempDirectory ?? Path.GetTempPath(), "accel-block-convert");
        try
        {
            options.Progress?.Report(new BlockConvertProgress("pull"));
            string tree = Path.Combine(work, "tree");
            PullResult pulled = await ImagePuller.PullAsync(
                source, sourceImage, tree,
                new PullOptions { Platform = options.Platform, StagingDirectory = work, VerifyDiffIds = options.VerifyDiffIds },
                cancellationToken).ConfigureAwait(false);

            options.Progress?.Report(new BlockConvertProgress("mkfs"));
            string raw = Path.Combine(work, "disk.img");
            Digest sourceDigest = pulled.Image.Manifest.Digest;
            long diskSize = await FileSystemImageBuilder.BuildAsync(
                tree, raw, options.FileSystem, sourceDigest.ToString(), options.FreeBytes, options.BlockSize, cancellationToken).ConfigureAwait(false);
            Directory.Delete(tree, recursive: true);

            options.Progress?.Report(new BlockConvertProgress("blocks"));
            long blocks = diskSize / options.BlockSize;
            long[] prefetch = options.PrefetchBlocks is null ? [] : [.. options.PrefetchBlocks.Where(b => b >= 0 && b < blocks).Distinct()];
            BlockImageBuild build = await BlockImageWriter.WriteAsync(
                raw, Path.Combine(work, "blobs"),
                new BlockWriteOptions { BlockSize = options.BlockSize, DataBlobSize = options.DataBlobSize, MaxParallelism = options.MaxParallelism, Prefetch = prefetch },
                cancellationToken).ConfigureAwait(false);

            options.Progress?.Report(new BlockConvertProgress("push"));
            var annotations = new Dictionary<string, string>(StringComparer.Ordinal)
            {
                [BlockFormat.SourceDigestAnnotation] = sourceDigest.ToString(),
                [BlockFormat.FileSystemAnnotation] = options.FileSystem == BlockFileSystem.Erofs ? "erofs" : "ext4",
            };
            Digest manifestDigest = await BlockImage.PushAsync(
                target, targetImage, tag, build.Index, build.Blobs, (resolved.ImageManifest.Config, resolved.ConfigBytes), annotations,
                options.MaxParallelUploads, cancellationToken).ConfigureAwait(false);

            return new BlockConvertResult
            {
                Target = targetImage,
                ManifestDigest = manifestDigest,
                SourceDigest = sourceDigest,
                Index = build.Index,
                IndexSize = build.Index.ToBytes().Length,
                DiskSize = diskSize,
                Blocks = build.Blocks,
                ZeroBlocks = build.ZeroBlocks,
                DuplicateBlocks = build.DuplicateBlocks,
                DataBlobs = build.Blobs.Count,
                DataBytes = build.StoredBytes,
                SourceLayerBytes = resolved.Layers.Sum(l => l.Size),
                PrefetchMissing = (options.PrefetchBlocks?.Count ?? 0) - prefetch.Length,
                Elapsed = clock.Elapsed,
            };
        }
        finally
        {
            try
            {
                Directory.Delete(work, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }
}

/// <summary>Options of <see cref="BlockConverter"/>, checked by <see cref="BlockConvertOptionsValidator"/>.</summary>
public sealed record BlockConvertOptions : IValidatableObject
{
    /// <summary>The file system to build. <value>Default: ext4.</value></summary>
    public BlockFileSystem FileSystem { get; init; } = BlockFileSystem.Ext4;

    /// <summary>The block size (<see cref="BlockFormat.IsValidBlockSize"/>). <value>Default: 64 KiB.</value></summary>
    public int BlockSize { get; init; } = BlockFormat.DefaultBlockSize;

    /// <summary>
    /// Free space left in the file system for a container's writes (through a copy-on-write layer). Free blocks are
    /// zeros, so they are neither stored nor fetched. <value>Default: 1 GiB.</value>
    /// </summary>
    public long FreeBytes { get; init; } = 1L << 30;

    /// <summary>The prefetch trace: block addresses a recorded start read, in order (out-of-range ones are dropped). <value>Default: none.</value></summary>
    public IReadOnlyList<long>? PrefetchBlocks { get; init; }

    /// <summary>The size at which a data blob is closed. <value>Default: 64 MiB.</value></summary>
    public long DataBlobSize { get; init; } = 64L << 20;

    /// <summary>Blocks compressed at once; the output does not depend on it. <value>Default: the processor count.</value></summary>
    public int MaxParallelism { get; init; } = Environment.ProcessorCount;

    /// <summary>Blobs uploaded at once. <value>Default: 4.</value></summary>
    public int MaxParallelUploads { get; init; } = 4;

    /// <summary>The platform to convert from a multi-platform source. <value>Default: the current platform.</value></summary>
    public Platform? Platform { get; init; }

    /// <summary>Where the staging tree, raw image and blobs are written. <value>Default: the system temp directory.</value></summary>
    public string? TempDirectory { get; init; }

    /// <summary>Whether each layer's uncompressed digest is checked against the config's diff_ids. <value>Default: true.</value></summary>
    public bool VerifyDiffIds { get; init; } = true;

    /// <summary>Progress reports, if wanted.</summary>
    public IProgress<BlockConvertProgress>? Progress { get; init; }

    /// <inheritdoc />
    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (!BlockFormat.IsValidBlockSize(BlockSize))
        {
            yield return new ValidationResult(BlockWriteOptions.BlockSizeProblem);
        }

        if (FreeBytes < 0)
        {
            yield return new ValidationResult($"{nameof(FreeBytes)} must not be negative.");
        }

        if (DataBlobSize < BlockSize)
        {
            yield return new ValidationResult($"{nameof(DataBlobSize)} must be at least the block size.");
        }

        if (MaxParallelism < 1 || MaxParallelUploads < 1)
        {
            yield return new ValidationResult($"{nameof(MaxParallelism)} and {nameof(MaxParallelUploads)} must be at least 1.");
        }
    }
}

/// <summary>Validates <see cref="BlockConvertOptions"/> (generated from its data annotations and rules).</summary>
[OptionsValidator]
public sealed partial class BlockConvertOptionsValidator : IValidateOptions<BlockConvertOptions>
{
}

/// <summary>Progress of a block conversion: the stage begun (<c>pull</c>, <c>mkfs</c>, <c>blocks</c>, <c>push</c>).</summary>
/// <param name="Stage">The stage.</param>
public readonly record struct BlockConvertProgress(string Stage);

/// <summary>What a block conversion made.</summary>
public sealed record BlockConvertResult
{
    /// <summary>The reference the block image was written to.</summary>
    public required ImageReference Target { get; init; }

    /// <summary>The digest of the block image's manifest.</summary>
    public required Digest ManifestDigest { get; init; }

    /// <summary>The digest of the source image manifest.</summary>
    public required Digest SourceDigest { get; init; }

    /// <summary>The index written.</summary>
    public required BlockIndex Index { get; init; }

    /// <summary>The size of the index blob.</summary>
    public required long IndexSize { get; init; }

    /// <summary>The size of the disk.</summary>
    public required long DiskSize { get; init; }

    /// <summary>The disk's blocks.</summary>
    public required long Blocks { get; init; }

    /// <summary>Blocks skipped as all zeros.</summary>
    public required long ZeroBlocks { get; init; }

    /// <summary>Non-zero blocks equal to one already stored.</summary>
    public required long DuplicateBlocks { get; init; }

    /// <summary>Data blobs written.</summary>
    public required int DataBlobs { get; init; }

    /// <summary>Bytes of the data blobs.</summary>
    public required long DataBytes { get; init; }

    /// <summary>The compressed size of the source image's layers.</summary>
    public required long SourceLayerBytes { get; init; }

    /// <summary>Prefetch trace entries dropped (outside the disk, or repeated).</summary>
    public required int PrefetchMissing { get; init; }

    /// <summary>How long the conversion took.</summary>
    public required TimeSpan Elapsed { get; init; }
}

using Accelerator.Oci.IO;
using Accelerator.Oci.Model;

namespace Accelerator.Oci.Copying;

/// <summary>Options for <see cref="ImageCopier"/>.</summary>
public sealed record CopyOptions
{
    /// <summary>
    /// Copy every platform of an index (true), or only <see cref="Platform"/>'s manifest (false).
    /// <value>Default: true.</value>
    /// </summary>
    public bool AllPlatforms { get; init; } = true;

    /// <summary>The platform to copy when <see cref="AllPlatforms"/> is false. <value>Default: the current platform.</value></summary>
    public Platform? Platform { get; init; }

    /// <summary>Blobs copied at once. <value>Default: 4.</value></summary>
    public int MaxParallelBlobs { get; init; } = 4;

    /// <summary>Progress per blob, if wanted.</summary>
    public IProgress<CopyProgress>? Progress { get; init; }
}

/// <summary>Progress of a copy: one blob's state.</summary>
/// <param name="Blob">The blob.</param>
/// <param name="BytesDone">Bytes copied so far.</param>
/// <param name="Skipped">True when the target already had it.</param>
/// <param name="Completed">True when the blob is done.</param>
public readonly record struct CopyProgress(Descriptor Blob, long BytesDone, bool Skipped, bool Completed);

/// <summary>What a copy did.</summary>
/// <param name="ManifestDigest">The digest of the root manifest or index copied.</param>
/// <param name="BlobsCopied">Blobs uploaded.</param>
/// <param name="BlobsSkipped">Blobs the target already had.</param>
/// <param name="BytesCopied">Bytes uploaded.</param>
/// <param name="Manifests">Manifests (and indexes) written.</param>
public sealed record CopyResult(Digest ManifestDigest, int BlobsCopied, int BlobsSkipped, long BytesCopied, int Manifests);

/// <summary>
/// Copies an image, with every platform of an index, between image stores (registry ↔ layout, registry → registry).
/// Blobs the target already has are skipped; every blob is verified while it streams; manifests are written after
/// their blobs, children before their index, so a target never names content it lacks.
/// </summary>
public sealed class ImageCopier
{
    private int _copied;
    private int _skipped;
    private long _bytes;
    private int _manifests;

    private ImageCopier()
    {
    }

    /// <summary>Copies <paramref name="sourceImage"/> from <paramref name="source"/> to <paramref name="targetImage"/> in <paramref name="target"/>.</summary>
    public static async Task<CopyResult> CopyAsync(
        IImageStore source,
        ImageReference sourceImage,
        IImageStore target,
        ImageReference targetImage,
        CopyOptions? options = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(target);
        options ??= new CopyOptions();
        if (options.MaxParallelBlobs < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(options), "MaxParallelBlobs must be at least 1.");
        }

        var copier = new ImageCopier();
        var root = await source.GetManifestAsync(sourceImage, cancellationToken).ConfigureAwait(false);
        string? tag = targetImage.Digest is null ? targetImage.Tag ?? sourceImage.Tag : null;
        if (root.Index is { } index && !options.AllPlatforms)
        {
            var selected = index.SelectPlatform(options.Platform ?? Platform.Current)
                ?? throw new Resolution.PlatformNotFoundException(sourceImage, options.Platform ?? Platform.Current, index.Manifests.Where(m => m.Platform is not null).Select(m => m.Platform!));
            root = await source.GetManifestAsync(sourceImage, selected.Digest, cancellationToken).ConfigureAwait(false);
        }

        await copier.CopyDocumentAsync(source, sourceImage, target, targetImage, root, tag, options, depth: 0, cancellationToken).ConfigureAwait(false);
        return new CopyResult(root.Digest, copier._copied, copier._skipped, copier._bytes, copier._manifests);
    }

    private async Task CopyDocumentAsync(
        IImageStore source, ImageReference sourceImage, IImageStore target, ImageReference targetImage,
        ManifestDocument document, string? tag, CopyOptions options, int depth, CancellationToken cancellationToken)
    {
        if (depth > 4)
        {
            throw new FormatException($"Image {sourceImage} nests indexes too deeply.");
        }

        if (document.Index is { } index)
        {
            foreach (var child in index.Manifests)
            {
                if (!MediaTypes.IsManifest(child.MediaType) && !MediaTypes.IsIndex(child.MediaType))
                {
                    continue;
                }

                var childDocument = await source.GetManifestAsync(sourceImage, child.Digest, cancellationToken).ConfigureAwait(false);
                await CopyDocumentAsync(source, sourceImage, target, targetImage, childDocument, null, options, depth + 1, cancellationToken).ConfigureAwait(false);
            }
        }
        else
        {
            var manifest = document.Manifest!;
            var blobs = manifest.Layers.Prepend(manifest.Config).DistinctBy(b => b.Digest).ToList();
            await Parallel.ForEachAsync(
                blobs,
                new ParallelOptions { MaxDegreeOfParallelism = options.MaxParallelBlobs, CancellationToken = cancellationToken },
                (blob, ct) => new ValueTask(CopyBlobAsync(source, sourceImage, target, targetImage, blob, options.Progress, ct))).ConfigureAwait(false);
        }

        await target.PushManifestAsync(targetImage, document, tag, cancellationToken).ConfigureAwait(false);
        Interlocked.Increment(ref _manifests);
    }

    private async Task CopyBlobAsync(
        IImageStore source, ImageReference sourceImage, IImageStore target, ImageReference targetImage,
        Descriptor blob, IProgress<CopyProgress>? progress, CancellationToken cancellationToken)
    {
        if (blob.Urls is { Count: > 0 } && !MediaTypes.IsLayer(blob.MediaType))
        {
            return;
        }

        if (await target.BlobExistsAsync(targetImage, blob, cancellationToken).ConfigureAwait(false))
        {
            Interlocked.Increment(ref _skipped);
            progress?.Report(new CopyProgress(blob, blob.Size, Skipped: true, Completed: true));
            return;
        }

        await using (var stream = await source.Blobs.OpenReadAsync(BlobAddress.For(sourceImage.Repository, blob), cancellationToken).ConfigureAwait(false))
        {
            Stream content = progress is null ? stream : new ProgressStream(stream, n => progress.Report(new CopyProgress(blob, n, false, false)));
            await target.PushBlobAsync(targetImage, blob, content, cancellationToken).ConfigureAwait(false);
        }

        Interlocked.Increment(ref _copied);
        Interlocked.Add(ref _bytes, blob.Size);
        progress?.Report(new CopyProgress(blob, blob.Size, Skipped: false, Completed: true));
    }
}

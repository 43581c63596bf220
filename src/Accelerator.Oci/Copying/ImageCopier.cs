using Accelerator.Oci.Model;
using Accelerator.Oci.Referrers;
using Accelerator.Oci.Registry;

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

    /// <summary>
    /// Caps the rate at which blob bytes are read from the source (shared by every blob of the copy, and by every copy
    /// given the same limiter). <value>Default: null, no cap.</value>
    /// </summary>
    public BandwidthLimiter? Bandwidth { get; init; }

    /// <summary>
    /// Where blobs are known to be in registry targets. When set, a blob the target repository lacks but another
    /// repository of the same registry holds is mounted from there instead of uploaded (and when the source is the
    /// same registry, the source repository is tried first); every blob the copy finds or puts in a registry target is
    /// recorded. <value>Default: null, no mounts across copies (a same-registry source is still mounted from).</value>
    /// </summary>
    public KnownBlobLocations? BlobLocations { get; init; }

    /// <summary>
    /// After pushing each manifest to a registry target, check it by digest with a HEAD (the registry's
    /// <c>Docker-Content-Digest</c> must name the same digest). <value>Default: false (the push itself already checks
    /// the digest the registry reports, when it reports one).</value>
    /// </summary>
    public bool VerifyManifests { get; init; }

    /// <summary>
    /// Carry the referrers of each image manifest copied (signatures, SBOMs, seekable indexes: manifests whose
    /// <c>subject</c> names it), listed at the source through its referrers API or referrers tag and published at the
    /// target the same way (<see cref="ImageReferrers"/>). Referrers of referrers are not followed.
    /// <value>Default: true.</value>
    /// </summary>
    public bool Referrers { get; init; } = true;

    /// <summary>Carry only referrers of this artifact type (with <see cref="Referrers"/>). <value>Default: null, every referrer.</value></summary>
    public string? ReferrerArtifactType { get; init; }
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
public sealed record CopyResult(Digest ManifestDigest, int BlobsCopied, int BlobsSkipped, long BytesCopied, int Manifests)
{
    /// <summary>Blobs mounted from another repository of the target registry (not counted in <see cref="BlobsCopied"/>).</summary>
    public int BlobsMounted { get; init; }

    /// <summary>Referrers carried to the target (also counted in <see cref="Manifests"/>).</summary>
    public int Referrers { get; init; }

    /// <summary>Referrers at the source that were not carried, each with the reason (a malformed listing, a forged subject).</summary>
    public IReadOnlyList<string> ReferrersSkipped { get; init; } = [];
}

/// <summary>
/// Copies an image, with every platform of an index, between image stores (registry ↔ layout, registry → registry).
/// Blobs the target already has are skipped, blobs another repository of a registry target holds are mounted (see
/// <see cref="CopyOptions.BlobLocations"/>), the rest are streamed (capped by <see cref="CopyOptions.Bandwidth"/>);
/// every blob is verified while it streams; manifests are written after their blobs, children before their index, so a
/// target never names content it lacks.
/// </summary>
public sealed class ImageCopier
{
    private int _copied;
    private int _skipped;
    private long _bytes;
    private int _manifests;
    private int _mounted;
    private int _referrers;
    private readonly List<string> _referrersSkipped = [];

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
        return new CopyResult(root.Digest, copier._copied, copier._skipped, copier._bytes, copier._manifests)
        {
            BlobsMounted = copier._mounted,
            Referrers = copier._referrers,
            ReferrersSkipped = [.. copier._referrersSkipped],
        };
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
                (blob, ct) => new ValueTask(CopyBlobAsync(source, sourceImage, target, targetImage, blob, options, ct))).ConfigureAwait(false);
        }

        await target.PushManifestAsync(targetImage, document, tag, cancellationToken).ConfigureAwait(false);
        if (options.VerifyManifests && target is RegistryImageStore registry)
        {
            // HeadManifestAsync refuses a Docker-Content-Digest other than the digest asked for.
            _ = await registry.Client.HeadManifestAsync(registry.Registry, targetImage.Repository, document.Digest.ToString(), cancellationToken).ConfigureAwait(false)
                ?? throw new RegistryException($"{registry.Registry}/{targetImage.Repository}@{document.Digest} is missing right after it was pushed.");
        }

        Interlocked.Increment(ref _manifests);
        if (options.Referrers && document.Manifest is not null && document.Manifest.Subject is null)
        {
            await CopyReferrersAsync(source, sourceImage, target, targetImage, document, options, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Carries the referrers of <paramref name="subject"/>: each must be an image manifest whose subject is it (a listing
    /// can name anything); its blobs first, then the manifest through the target's referrers API or tag.
    /// </summary>
    private async Task CopyReferrersAsync(
        IImageStore source, ImageReference sourceImage, IImageStore target, ImageReference targetImage,
        ManifestDocument subject, CopyOptions options, CancellationToken cancellationToken)
    {
        ReferrerListing listing;
        try
        {
            listing = await ImageReferrers.ListAsync(source, sourceImage, subject.Digest, options.ReferrerArtifactType, cancellationToken).ConfigureAwait(false);
        }
        catch (InvalidDataException ex)
        {
            Skip($"referrers of {subject.Digest}: {ex.Message}");
            return;
        }

        foreach (var referrer in listing.Referrers.DistinctBy(r => r.Digest))
        {
            ManifestDocument document;
            try
            {
                document = await source.GetManifestAsync(sourceImage, referrer.Digest, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is BlobNotFoundException or FormatException or NotSupportedException or DigestMismatchException or ContentTooLargeException)
            {
                Skip($"referrer {referrer.Digest}: {ex.Message}");
                continue;
            }

            if (document.Manifest?.Subject?.Digest != subject.Digest)
            {
                Skip($"referrer {referrer.Digest}: its subject is {document.Manifest?.Subject?.Digest.ToString() ?? "missing"}, not {subject.Digest}");
                continue;
            }

            var manifest = document.Manifest;
            var blobs = manifest.Layers.Prepend(manifest.Config).DistinctBy(b => b.Digest).ToList();
            await Parallel.ForEachAsync(
                blobs,
                new ParallelOptions { MaxDegreeOfParallelism = options.MaxParallelBlobs, CancellationToken = cancellationToken },
                (blob, ct) => new ValueTask(CopyBlobAsync(source, sourceImage, target, targetImage, blob, options, ct))).ConfigureAwait(false);
            await ImageReferrers.PushAsync(target, targetImage, document, cancellationToken).ConfigureAwait(false);
            Interlocked.Increment(ref _manifests);
            Interlocked.Increment(ref _referrers);
        }
    }

    private void Skip(string reason)
    {
        lock (_referrersSkipped)
        {
            _referrersSkipped.Add(reason);
        }
    }

    private async Task CopyBlobAsync(
        IImageStore source, ImageReference sourceImage, IImageStore target, ImageReference targetImage,
        Descriptor blob, CopyOptions options, CancellationToken cancellationToken)
    {
        if (blob.Urls is { Count: > 0 } && !MediaTypes.IsLayer(blob.MediaType))
        {
            return;
        }

        var progress = options.Progress;
        var registry = target as RegistryImageStore;
        if (await target.BlobExistsAsync(targetImage, blob, cancellationToken).ConfigureAwait(false))
        {
            Remember(options, registry, targetImage, blob);
            Interlocked.Increment(ref _skipped);
            progress?.Report(new CopyProgress(blob, blob.Size, Skipped: true, Completed: true));
            return;
        }

        if (registry is not null && await TryMountAsync(source, sourceImage, registry, targetImage, blob, options, cancellationToken).ConfigureAwait(false))
        {
            Remember(options, registry, targetImage, blob);
            Interlocked.Increment(ref _mounted);
            progress?.Report(new CopyProgress(blob, blob.Size, Skipped: true, Completed: true));
            return;
        }

        await using (var stream = await source.Blobs.OpenReadAsync(BlobAddress.For(sourceImage.Repository, blob), cancellationToken).ConfigureAwait(false))
        {
            Stream content = options.Bandwidth is { } limiter ? new ThrottledStream(stream, limiter) : stream;
            content = progress is null ? content : new CountingStream(content, n => progress.Report(new CopyProgress(blob, n, false, false)), leaveOpen: true);
            await target.PushBlobAsync(targetImage, blob, content, cancellationToken).ConfigureAwait(false);
        }

        Remember(options, registry, targetImage, blob);
        Interlocked.Increment(ref _copied);
        Interlocked.Add(ref _bytes, blob.Size);
        progress?.Report(new CopyProgress(blob, blob.Size, Skipped: false, Completed: true));
    }

    /// <summary>
    /// Mounts the blob from a repository of the target registry known to hold it: the source repository when source and
    /// target are the same registry, else one from <see cref="CopyOptions.BlobLocations"/>. A declined or failed mount
    /// is not an error; the caller uploads.
    /// </summary>
    private static async Task<bool> TryMountAsync(
        IImageStore source, ImageReference sourceImage, RegistryImageStore target, ImageReference targetImage,
        Descriptor blob, CopyOptions options, CancellationToken cancellationToken)
    {
        var candidates = new List<string>(2);
        if (source is RegistryImageStore same && string.Equals(same.Registry, target.Registry, StringComparison.OrdinalIgnoreCase)
            && sourceImage.Repository != targetImage.Repository)
        {
            candidates.Add(sourceImage.Repository);
        }

        if (options.BlobLocations?.TryGetOther(target.Registry, blob.Digest, targetImage.Repository, out string? known) == true && !candidates.Contains(known))
        {
            candidates.Add(known);
        }

        foreach (string from in candidates)
        {
            try
            {
                if (await target.Client.MountBlobAsync(target.Registry, targetImage.Repository, blob.Digest, from, cancellationToken).ConfigureAwait(false))
                {
                    return true;
                }
            }
            catch (RegistryException)
            {
                // A registry that refuses mounts (or the repository we remembered is gone) costs an upload, no more.
            }
        }

        return false;
    }

    private static void Remember(CopyOptions options, RegistryImageStore? registry, ImageReference targetImage, Descriptor blob)
    {
        if (registry is not null)
        {
            options.BlobLocations?.Add(registry.Registry, targetImage.Repository, blob.Digest);
        }
    }
}

using Accelerator.Oci.Model;
using Accelerator.Oci.Registry;

namespace Accelerator.Oci.Mirrors;

/// <summary>
/// A registry read through its mirror set (get it from <see cref="MirroredRegistries.GetStore"/>): a tag is resolved
/// at the first host allowed to resolve (containerd's <c>resolve</c> capability) that has it; manifests and blobs by
/// digest come from the mirrors that hold the image — each mirror is asked once (HEAD of the image's manifest digest,
/// cached) before any of its content is read — and finally from the origin. Writes and tag lists go to the origin (the
/// first host with the <c>push</c> capability).
/// </summary>
public sealed class MirroredImageStore : IImageStore, IReferrersStore
{
    private readonly MirrorSet _set;

    internal MirroredImageStore(MirrorSet set)
    {
        _set = set;
        BlobSource = new MirroredBlobSource(set);
    }

    /// <summary>The registry, as image references name it.</summary>
    public string Registry => _set.Registry;

    /// <summary>The mirrors' host keys, in configured order.</summary>
    public IReadOnlyList<string> Mirrors => _set.Mirrors.Select(m => m.Key).ToList();

    /// <summary>The origin's host key (the registry itself, or the configured server).</summary>
    public string Origin => _set.Origin.Key;

    /// <summary>The store's blobs, typed.</summary>
    public MirroredBlobSource BlobSource { get; }

    /// <inheritdoc />
    public IBlobSource Blobs => BlobSource;

    /// <inheritdoc />
    public async Task<ManifestDocument> GetManifestAsync(ImageReference image, CancellationToken cancellationToken = default)
    {
        string repository = Check(image).Repository;
        if (image.Digest is { } pinned)
        {
            _set.RegisterRoot(repository, pinned);
            return await FetchByDigestAsync(repository, pinned, root: true, cancellationToken).ConfigureAwait(false);
        }

        return await ResolveTagAsync(repository, image.Reference, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public Task<ManifestDocument> GetManifestAsync(ImageReference image, Digest digest, CancellationToken cancellationToken = default)
        => FetchByDigestAsync(Check(image).Repository, digest, root: false, cancellationToken);

    /// <inheritdoc />
    public async ValueTask<bool> BlobExistsAsync(ImageReference image, Descriptor blob, CancellationToken cancellationToken = default)
        => await BlobSource.ExistsAsync(BlobAddress.For(Check(image).Repository, blob), cancellationToken).ConfigureAwait(false);

    /// <inheritdoc />
    public Task PushBlobAsync(ImageReference image, Descriptor blob, Stream content, CancellationToken cancellationToken = default)
    {
        var target = PushTarget();
        return target.Host.Client.PushBlobAsync(target.Key, Check(image).Repository, blob, content, cancellationToken);
    }

    /// <inheritdoc />
    public Task PushManifestAsync(ImageReference image, ManifestDocument manifest, string? tag, CancellationToken cancellationToken = default)
    {
        var target = PushTarget();
        return target.Host.Client.PutManifestAsync(target.Key, Check(image).Repository, manifest, tag, cancellationToken);
    }

    /// <inheritdoc />
    /// <remarks>Referrers are listed where tags are trusted (a listing names manifests, as a tag does): the first host allowed to resolve.</remarks>
    public Task<IReadOnlyList<Descriptor>?> GetReferrersAsync(ImageReference image, Digest subject, string? artifactType, CancellationToken cancellationToken = default)
    {
        var resolver = _set.ResolvePlan().FirstOrDefault() ?? throw NoResolver();
        return resolver.Host.Client.GetReferrersAsync(resolver.Key, Check(image).Repository, subject, artifactType, cancellationToken);
    }

    /// <inheritdoc />
    public Task<bool> PushReferrerAsync(ImageReference image, ManifestDocument referrer, CancellationToken cancellationToken = default)
    {
        var target = PushTarget();
        return target.Host.Client.PutReferrerAsync(target.Key, Check(image).Repository, referrer, cancellationToken);
    }

    /// <inheritdoc />
    /// <remarks>Tags are listed where tags are trusted: the first host allowed to resolve.</remarks>
    public Task<IReadOnlyList<string>> ListTagsAsync(ImageReference image, CancellationToken cancellationToken = default)
    {
        var resolver = _set.ResolvePlan().FirstOrDefault() ?? throw NoResolver();
        return resolver.Host.Client.ListTagsAsync(resolver.Key, Check(image).Repository, null, cancellationToken);
    }

    private async Task<ManifestDocument> ResolveTagAsync(string repository, string tag, CancellationToken cancellationToken)
    {
        var plan = _set.ResolvePlan();
        if (plan.Count == 0)
        {
            throw NoResolver();
        }

        var rules = new FailoverRules
        {
            What = $"tag {repository}:{tag}",
            Subject = $"manifest {repository}:{tag}",
            IsHostFailure = MirrorFailover.IsManifestFailure,
            StallFromStart = true,
        };
        return await MirrorFailover.RunAsync(_set, plan, rules, async attempt =>
        {
            var route = attempt.Route;
            var document = await route.Host.Client.GetManifestAsync(route.Key, repository, tag, attempt.Token).ConfigureAwait(false);
            _set.ReportSuccess(route);
            _set.RegisterRoot(repository, document.Digest);
            _set.RegisterChildren(repository, document);
            _set.RecordPresence(route, repository, document.Digest, present: true);
            return document;
        }, cancellationToken).ConfigureAwait(false);
    }

    private async Task<ManifestDocument> FetchByDigestAsync(string repository, Digest digest, bool root, CancellationToken cancellationToken)
    {
        var plan = await _set.PlanAsync(repository, digest, cancellationToken).ConfigureAwait(false);
        var rules = new FailoverRules
        {
            What = $"manifest {repository}@{digest}",
            Subject = $"manifest {repository}@{digest}",
            IsHostFailure = MirrorFailover.IsManifestFailure,
            // A manifest whose bytes do not hash to the digest is refused by the client (DigestMismatchException).
            Reason = static (ex, stalled) => stalled ? "stalled" : ex is DigestMismatchException ? "bad bytes" : "error",
            StallFromStart = true,
            OnNotFound = root ? route => _set.RecordPresence(route, repository, digest, present: false) : null,
        };
        return await MirrorFailover.RunAsync(_set, plan, rules, async attempt =>
        {
            var route = attempt.Route;
            var document = await route.Host.Client.GetManifestAsync(route.Key, repository, digest.ToString(), attempt.Token).ConfigureAwait(false);
            _set.ReportSuccess(route);
            _set.RegisterChildren(repository, document);
            if (root)
            {
                _set.RecordPresence(route, repository, digest, present: true);
            }

            return document;
        }, cancellationToken).ConfigureAwait(false);
    }

    private MirrorRoute PushTarget()
        => _set.PushTarget() ?? throw new InvalidOperationException($"No host of {Registry}'s mirror set has the push capability.");

    private InvalidOperationException NoResolver()
        => new($"No host of {Registry}'s mirror set may resolve tags (capability 'resolve'); refer to images by digest, or grant a host 'resolve'.");

    private ImageReference Check(ImageReference image)
    {
        ArgumentNullException.ThrowIfNull(image);
        if (image.Kind != ImageReferenceKind.Registry || !string.Equals(image.Registry, Registry, StringComparison.OrdinalIgnoreCase))
        {
            throw new ArgumentException($"{image} is not in registry {Registry}.", nameof(image));
        }

        return image;
    }
}

using Accelerator.Oci.Copying;
using Accelerator.Oci.Registry;
using Accelerator.Oci.Validation;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Accelerator.Replication;

/// <summary>
/// Replicates repositories and tags from one registry to others, Harbor-style: every tag in the filter's scope (with
/// its accelerated variants) is copied with all the platforms of its index; blobs a target has are skipped, blobs
/// another repository of the target holds are mounted, large blobs go in chunks; every pushed manifest is checked by
/// digest. Runs are idempotent (a tag whose target digest already equals the source's costs two HEADs) and resumable
/// (an interrupted run leaves finished blobs, which the next run skips).
/// </summary>
public sealed partial class Replicator
{
    private readonly RegistryClient _client;
    private readonly ReplicationOptions _options;
    private readonly ILogger _logger;

    // One copy at a time per target repository: docker-registry rewrites a repository's link files in place, so two
    // concurrent pushes of the same blob or manifest into one repository can make the other's checks read a half-written
    // link (seen as DIGEST_INVALID / MANIFEST_BLOB_UNKNOWN). Tags of one repository share most blobs anyway.
    private readonly KeyedLock _repositoryLocks = new();

    /// <summary>Creates a replicator that talks to every registry through <paramref name="client"/>.</summary>
    public Replicator(RegistryClient client, ReplicationOptions options, ILogger<Replicator>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentNullException.ThrowIfNull(options);
        new ReplicationOptionsValidator().ThrowIfInvalid(options, "replication");
        _client = client;
        _options = options;
        _logger = (ILogger?)logger ?? NullLogger.Instance;
    }

    /// <summary>The options.</summary>
    public ReplicationOptions Options => _options;

    /// <summary>
    /// Replicates every tag of <paramref name="source"/> in the filter's scope to every target, then (with
    /// <see cref="ReplicationOptions.Delete"/>) deletes target tags in scope that the source no longer has. Failures of
    /// single tags are reported, not thrown; listing the source's repositories failing is thrown.
    /// </summary>
    public async Task<ReplicationReport> RunAsync(ReplicationEndpoint source, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(source);
        var results = new List<ImageReplication>();
        var repositories = await ListSourceRepositoriesAsync(source, cancellationToken).ConfigureAwait(false);

        // Tags per source repository; a repository whose listing failed is absent, so nothing of it is ever deleted.
        var sourceTags = new Dictionary<string, IReadOnlyList<string>>(StringComparer.Ordinal);
        var work = new List<(string Repository, string Tag)>();
        foreach (string repository in repositories)
        {
            try
            {
                var tags = await ListTagsOrEmptyAsync(source.Registry, repository, cancellationToken).ConfigureAwait(false);
                sourceTags[repository] = tags;
                work.AddRange(tags.Where(t => _options.Filter.Includes(repository, t)).Order(StringComparer.Ordinal).Select(t => (repository, t)));
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                LogListingFailed(source.Registry, repository, ex.Message);
                results.Add(new ImageReplication($"{source.Registry}/{repository}", "*", ReplicationStatus.Failed) { Error = $"listing tags: {OneLine(ex)}" });
            }
        }

        var copied = new ImageReplication[work.Count][];
        await Parallel.ForEachAsync(
            Enumerable.Range(0, work.Count),
            new ParallelOptions { MaxDegreeOfParallelism = _options.MaxParallelImages, CancellationToken = cancellationToken },
            async (i, ct) => copied[i] = [.. await ReplicateTagAsync(source.Registry, work[i].Repository, work[i].Tag, null, ct).ConfigureAwait(false)]).ConfigureAwait(false);
        results.AddRange(copied.SelectMany(r => r));

        if (_options.Delete)
        {
            foreach (var target in _options.Targets)
            {
                results.AddRange(await DeleteStaleTagsAsync(source, target, sourceTags, cancellationToken).ConfigureAwait(false));
            }
        }

        return new ReplicationReport(results);
    }

    /// <summary>
    /// Replicates one tag of <paramref name="repository"/> in <paramref name="sourceRegistry"/> to every target (in
    /// parallel), whatever the filter says. The tag's current digest at the source is what is copied; with
    /// <paramref name="expectedDigest"/>, a tag naming another digest is not copied (status
    /// <see cref="ReplicationStatus.Moved"/>), for callers acting on a notification that may run ahead of the tag.
    /// </summary>
    public async Task<IReadOnlyList<ImageReplication>> ReplicateTagAsync(string sourceRegistry, string repository, string tag, Digest? expectedDigest = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(sourceRegistry);
        var sourceImage = ImageReference.Create(sourceRegistry, repository, tag);
        Descriptor? head;
        try
        {
            head = await _client.HeadManifestAsync(sourceRegistry, repository, tag, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            LogFailed(sourceImage.ToString(), "*", ex.Message);
            return _options.Targets.Select(t => Failure(sourceImage, TargetImage(t, repository, tag), $"reading the source: {OneLine(ex)}")).ToList();
        }

        if (head is null)
        {
            LogGone(sourceImage.ToString());
            return _options.Targets.Select(t => new ImageReplication(sourceImage.ToString(), TargetImage(t, repository, tag), ReplicationStatus.Gone)).ToList();
        }

        if (expectedDigest is { } expected && head.Digest != expected)
        {
            return _options.Targets.Select(t => new ImageReplication(sourceImage.ToString(), TargetImage(t, repository, tag), ReplicationStatus.Moved) { Digest = head.Digest }).ToList();
        }

        var pinned = ImageReference.Create(sourceRegistry, repository, tag, head.Digest);
        return await Task.WhenAll(_options.Targets.Select(t => CopyToTargetAsync(pinned, t, cancellationToken))).ConfigureAwait(false);
    }

    private async Task<ImageReplication> CopyToTargetAsync(ImageReference source, ReplicationEndpoint target, CancellationToken cancellationToken)
    {
        string tag = source.Tag!;
        Digest digest = source.Digest!.Value;
        string sourceName = ImageReference.Create(source.Registry, source.Repository, tag).ToString();
        string targetName = TargetImage(target, source.Repository, tag);
        try
        {
            string targetRepository = target.MapToTarget(source.Repository);
            using var exclusive = await _repositoryLocks.AcquireAsync($"{target.Registry.ToLowerInvariant()}/{targetRepository}", cancellationToken).ConfigureAwait(false);
            var existing = await _client.HeadManifestAsync(target.Registry, targetRepository, tag, cancellationToken).ConfigureAwait(false);
            if (existing?.Digest == digest)
            {
                LogSkipped(sourceName, targetName, digest.ToString());
                return new ImageReplication(sourceName, targetName, ReplicationStatus.Skipped) { Digest = digest };
            }

            var copy = await ImageCopier.CopyAsync(
                _client.GetStore(source.Registry),
                source,
                _client.GetStore(target.Registry),
                ImageReference.Create(target.Registry, targetRepository, tag),
                new CopyOptions
                {
                    AllPlatforms = true,
                    MaxParallelBlobs = _options.MaxParallelBlobs,
                    Bandwidth = _options.Bandwidth,
                    BlobLocations = _options.BlobLocations,
                    VerifyManifests = true,
                    Progress = _options.Progress,
                },
                cancellationToken).ConfigureAwait(false);

            // The copy pushed by digest and checked each manifest; the tag must now name the same digest.
            var tagged = await _client.HeadManifestAsync(target.Registry, targetRepository, tag, cancellationToken).ConfigureAwait(false);
            if (copy.ManifestDigest != digest || tagged?.Digest != digest)
            {
                throw new RegistryException($"after the push, {targetName} names {tagged?.Digest.ToString() ?? "nothing"} instead of {digest}.");
            }

            LogCopied(sourceName, targetName, digest.ToString(), copy.BlobsCopied, copy.BlobsMounted, copy.BlobsSkipped, copy.BytesCopied);
            return new ImageReplication(sourceName, targetName, ReplicationStatus.Copied)
            {
                Digest = digest,
                Manifests = copy.Manifests,
                BlobsCopied = copy.BlobsCopied,
                BlobsMounted = copy.BlobsMounted,
                BlobsSkipped = copy.BlobsSkipped,
                BytesCopied = copy.BytesCopied,
            };
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            LogFailed(sourceName, targetName, ex.Message);
            return Failure(source, targetName, OneLine(ex)) with { Digest = digest };
        }
    }

    private async Task<IReadOnlyList<string>> ListSourceRepositoriesAsync(ReplicationEndpoint source, CancellationToken cancellationToken)
    {
        if (_options.Filter.LiteralRepositories is { } named)
        {
            // Every glob names its repository: no catalog needed (registries such as Docker Hub do not offer one).
            return named.Where(source.Contains).Order(StringComparer.Ordinal).ToList();
        }

        var catalog = await _client.ListRepositoriesAsync(source.Registry, pageSize: 1000, cancellationToken: cancellationToken).ConfigureAwait(false);
        return catalog.Where(r => source.Contains(r) && _options.Filter.MayInclude(r)).Order(StringComparer.Ordinal).ToList();
    }

    private async Task<IReadOnlyList<string>> ListTagsOrEmptyAsync(string registry, string repository, CancellationToken cancellationToken)
    {
        try
        {
            return await _client.ListTagsAsync(registry, repository, pageSize: 1000, cancellationToken).ConfigureAwait(false);
        }
        catch (BlobNotFoundException)
        {
            return [];
        }
    }

    private static string TargetImage(ReplicationEndpoint target, string repository, string tag)
        => $"{target.Registry}/{(target.Prefix.Length == 0 ? repository : $"{target.Prefix}/{repository}")}:{tag}";

    private static ImageReplication Failure(ImageReference source, string target, string error)
        => new(ImageReference.Create(source.Registry, source.Repository, source.Tag).ToString(), target, ReplicationStatus.Failed) { Error = error };

    private static string OneLine(Exception ex)
    {
        while (ex is AggregateException { InnerExceptions.Count: 1 } aggregate)
        {
            ex = aggregate.InnerExceptions[0];
        }

        return ex.Message.ReplaceLineEndings(" ").Trim();
    }
}

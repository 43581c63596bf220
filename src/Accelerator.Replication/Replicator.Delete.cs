using Accelerator.Oci.Model;

namespace Accelerator.Replication;

public sealed partial class Replicator
{
    /// <summary>
    /// Deletes, in one target, the tags in scope that the source no longer has. The repositories looked at are the
    /// source's (those whose tags could be listed) and the target's own under its prefix, so a repository deleted at
    /// the source loses its tags too. Nothing is deleted in a repository whose source tags could not be listed.
    /// </summary>
    private async Task<IReadOnlyList<ImageReplication>> DeleteStaleTagsAsync(
        ReplicationEndpoint source, ReplicationEndpoint target, IReadOnlyDictionary<string, IReadOnlyList<string>> sourceTags, CancellationToken cancellationToken)
    {
        var results = new List<ImageReplication>();
        var repositories = new SortedSet<string>(sourceTags.Keys, StringComparer.Ordinal);
        try
        {
            foreach (string repository in await ListTargetRepositoriesAsync(source, target, cancellationToken).ConfigureAwait(false))
            {
                repositories.Add(repository);
            }
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            results.Add(new ImageReplication(source.ToString(), target.ToString(), ReplicationStatus.Failed) { Error = $"listing the target's repositories for --delete: {OneLine(ex)}" });
        }

        foreach (string repository in repositories)
        {
            IReadOnlyList<string> kept;
            if (sourceTags.TryGetValue(repository, out var listed))
            {
                kept = listed;
            }
            else
            {
                try
                {
                    // A target repository the source catalog did not name: check the source itself before deleting.
                    kept = await ListTagsOrEmptyAsync(source.Registry, repository, cancellationToken).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
                {
                    results.Add(new ImageReplication($"{source.Registry}/{repository}", $"{target.Registry}/{target.MapToTarget(repository)}", ReplicationStatus.Failed) { Error = $"listing source tags for --delete: {OneLine(ex)}" });
                    continue;
                }
            }

            results.AddRange(await DeleteStaleTagsAsync(source, target, repository, kept.ToHashSet(StringComparer.Ordinal), cancellationToken).ConfigureAwait(false));
        }

        return results;
    }

    private async Task<IReadOnlyList<string>> ListTargetRepositoriesAsync(ReplicationEndpoint source, ReplicationEndpoint target, CancellationToken cancellationToken)
    {
        if (_options.Filter.LiteralRepositories is { } named)
        {
            return named.Where(source.Contains).ToList();
        }

        var catalog = await _client.ListRepositoriesAsync(target.Registry, pageSize: 1000, cancellationToken: cancellationToken).ConfigureAwait(false);
        return catalog
            .Select(target.MapFromTarget)
            .OfType<string>()
            .Where(r => source.Contains(r) && _options.Filter.MayInclude(r))
            .ToList();
    }

    /// <summary>
    /// Deletes the stale tags of one repository. The distribution API deletes manifests by digest, which drops every
    /// tag naming that digest; tags that must stay and name the same digest are pushed again right after.
    /// </summary>
    private async Task<IReadOnlyList<ImageReplication>> DeleteStaleTagsAsync(
        ReplicationEndpoint source, ReplicationEndpoint target, string repository, HashSet<string> sourceTags, CancellationToken cancellationToken)
    {
        string targetRepository = target.MapToTarget(repository);
        IReadOnlyList<string> targetTags;
        try
        {
            targetTags = await ListTagsOrEmptyAsync(target.Registry, targetRepository, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            return [new ImageReplication($"{source.Registry}/{repository}", $"{target.Registry}/{targetRepository}", ReplicationStatus.Failed) { Error = $"listing target tags for --delete: {OneLine(ex)}" }];
        }

        var stale = targetTags.Where(t => _options.Filter.Includes(repository, t) && !sourceTags.Contains(t)).Order(StringComparer.Ordinal).ToList();
        if (stale.Count == 0)
        {
            return [];
        }

        var results = new List<ImageReplication>();
        var staleByDigest = new Dictionary<Digest, List<string>>();
        foreach (string tag in stale)
        {
            string sourceName = $"{source.Registry}/{repository}:{tag}";
            string targetName = $"{target.Registry}/{targetRepository}:{tag}";
            try
            {
                if (await _client.HeadManifestAsync(target.Registry, targetRepository, tag, cancellationToken).ConfigureAwait(false) is { } head)
                {
                    (staleByDigest.TryGetValue(head.Digest, out var list) ? list : staleByDigest[head.Digest] = []).Add(tag);
                }
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                results.Add(new ImageReplication(sourceName, targetName, ReplicationStatus.Failed) { Error = $"deleting: {OneLine(ex)}" });
            }
        }

        if (staleByDigest.Count == 0)
        {
            return results;
        }

        // Which tags that stay share a digest with one that goes.
        var keptByDigest = new Dictionary<Digest, List<string>>();
        try
        {
            foreach (string tag in targetTags.Except(stale))
            {
                if (await _client.HeadManifestAsync(target.Registry, targetRepository, tag, cancellationToken).ConfigureAwait(false) is { } head
                    && staleByDigest.ContainsKey(head.Digest))
                {
                    (keptByDigest.TryGetValue(head.Digest, out var list) ? list : keptByDigest[head.Digest] = []).Add(tag);
                }
            }
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            // Without knowing which remaining tags share a digest, deleting could take them along: delete nothing.
            results.AddRange(staleByDigest.SelectMany(g => g.Value).Select(tag => new ImageReplication(
                $"{source.Registry}/{repository}:{tag}", $"{target.Registry}/{targetRepository}:{tag}", ReplicationStatus.Failed)
            {
                Error = $"deleting: checking the tags that stay failed: {OneLine(ex)}",
            }));
            return results;
        }

        foreach (var (digest, tags) in staleByDigest)
        {
            string? error = null;
            try
            {
                ManifestDocument? document = keptByDigest.ContainsKey(digest)
                    ? await _client.GetManifestAsync(target.Registry, targetRepository, digest.ToString(), cancellationToken).ConfigureAwait(false)
                    : null;
                await _client.DeleteManifestAsync(target.Registry, targetRepository, digest, cancellationToken).ConfigureAwait(false);
                foreach (string keep in keptByDigest.GetValueOrDefault(digest) ?? [])
                {
                    await _client.PutManifestAsync(target.Registry, targetRepository, document!, keep, cancellationToken).ConfigureAwait(false);
                }
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                error = $"deleting: {OneLine(ex)}";
            }

            foreach (string tag in tags)
            {
                string sourceName = $"{source.Registry}/{repository}:{tag}";
                string targetName = $"{target.Registry}/{targetRepository}:{tag}";
                if (error is null)
                {
                    LogDeleted(targetName, digest.ToString());
                }
                else
                {
                    LogFailed(sourceName, targetName, error);
                }

                results.Add(new ImageReplication(sourceName, targetName, error is null ? ReplicationStatus.Deleted : ReplicationStatus.Failed) { Digest = digest, Error = error });
            }
        }

        return results;
    }
}

using System.Collections.Concurrent;
using Accelerator.Oci.Model;
using Microsoft.Extensions.Logging;

namespace Accelerator.Oci.Mirrors;

/// <summary>
/// The hosts of one registry and the rules for choosing among them: tags resolve only at hosts allowed to
/// <c>resolve</c>, in configured order; content by digest comes from mirrors known to hold the image it belongs to
/// (the "replicated everywhere" check: a HEAD of the image's manifest digest at each mirror, cached), in the
/// load-balancing policy's order among healthy mirrors, then from the origin, then from mirrors that are being left
/// alone after failures.
/// </summary>
internal sealed partial class MirrorSet
{
    private const int MaxContextEntries = 200_000;

    private readonly MirroredRegistries _owner;
    private readonly IReadOnlyList<MirrorRoute> _pullMirrors;
    private readonly IMirrorBalancer _balancer;

    // Which image roots (the manifest or index a tag or digest named) each manifest and blob digest was reached from.
    private readonly ConcurrentDictionary<(string Repository, Digest Digest), Digest[]> _roots = new();

    public MirrorSet(MirroredRegistries owner, string registry, IReadOnlyList<MirrorRoute> mirrors, MirrorRoute origin)
    {
        _owner = owner;
        Registry = registry;
        Mirrors = mirrors;
        Origin = origin;
        _pullMirrors = mirrors.Where(m => m.Can(MirrorCapabilities.Pull)).ToList();
        _balancer = MirrorBalancer.Create(owner.Options.LoadBalancing, _pullMirrors, owner.Options.VirtualNodesPerHost);
    }

    /// <summary>The registry, as image references name it.</summary>
    public string Registry { get; }

    /// <summary>The mirrors, in configured order.</summary>
    public IReadOnlyList<MirrorRoute> Mirrors { get; }

    /// <summary>The origin (the registry itself, or the configured server).</summary>
    public MirrorRoute Origin { get; }

    public MirrorOptions Options => _owner.Options;

    public TimeProvider Time => _owner.Time;

    private ILogger Logger => _owner.Logger;

    /// <summary>Hosts that may resolve tags: resolve-capable mirrors in order, the origin, then resolve-capable mirrors left alone.</summary>
    public IReadOnlyList<MirrorRoute> ResolvePlan()
    {
        var resolvers = Mirrors.Where(m => m.Can(MirrorCapabilities.Resolve)).ToList();
        var plan = resolvers.Where(m => m.Host.Health.IsAvailable).ToList();
        if (Origin.Can(MirrorCapabilities.Resolve))
        {
            plan.Add(Origin);
        }

        plan.AddRange(resolvers.Where(m => !plan.Contains(m)));
        return plan;
    }

    /// <summary>The hosts to write to: the first with the push capability (normally the origin).</summary>
    public MirrorRoute? PushTarget()
        => Mirrors.FirstOrDefault(m => m.Can(MirrorCapabilities.Push)) ?? (Origin.Can(MirrorCapabilities.Push) ? Origin : null);

    /// <summary>
    /// The hosts to read <paramref name="digest"/> of <paramref name="repository"/> from, in the order to try them. A
    /// mirror is included only when it is known to hold an image root the digest was reached from (asked with a HEAD
    /// and cached); for a digest reached from no known root (a blob read directly), every pull mirror is included,
    /// since the digest verifies the bytes and a 404 just moves on.
    /// </summary>
    public async Task<IReadOnlyList<MirrorRoute>> PlanAsync(string repository, Digest digest, CancellationToken cancellationToken)
    {
        var roots = RootsOf(repository, digest);
        var available = new List<MirrorRoute>();
        var resting = new List<MirrorRoute>();
        if (roots.Length == 0)
        {
            foreach (var mirror in _pullMirrors)
            {
                (mirror.Host.Health.IsAvailable ? available : resting).Add(mirror);
            }
        }
        else
        {
            var checks = _pullMirrors.Select(async mirror => (mirror, holds: await HoldsAnyAsync(mirror, repository, roots, cancellationToken).ConfigureAwait(false)));
            foreach (var (mirror, holds) in await Task.WhenAll(checks).ConfigureAwait(false))
            {
                if (holds == true)
                {
                    (mirror.Host.Health.IsAvailable ? available : resting).Add(mirror);
                }
            }
        }

        var plan = new List<MirrorRoute>(_balancer.Order(available, digest));
        if (Origin.Can(MirrorCapabilities.Pull))
        {
            plan.Add(Origin);
        }

        plan.AddRange(resting);
        if (plan.Count == 0)
        {
            throw new BlobNotFoundException($"{repository}@{digest}: no host of {Registry}'s mirror set may serve it (none has the pull capability)");
        }

        return plan;
    }

    /// <summary>
    /// Whether <paramref name="mirror"/> holds one of <paramref name="roots"/>: true or false from the cache or a HEAD;
    /// a mirror that is being left alone is not asked (null unless the cache already knows).
    /// </summary>
    private async Task<bool?> HoldsAnyAsync(MirrorRoute mirror, string repository, Digest[] roots, CancellationToken cancellationToken)
    {
        bool available = mirror.Host.Health.IsAvailable;
        foreach (var root in roots)
        {
            if (_owner.Presence.Known(mirror.Key, repository, root) is { } known)
            {
                if (known)
                {
                    return true;
                }

                continue;
            }

            if (available && await _owner.Presence.HoldsAsync(mirror.Key, repository, root, () => HeadAsync(mirror, repository, root), cancellationToken).ConfigureAwait(false))
            {
                return true;
            }
        }

        return available ? false : null;
    }

    /// <summary>Asks <paramref name="mirror"/> whether it holds manifest <paramref name="digest"/> (HEAD by digest); false on any failure.</summary>
    private async Task<bool> HeadAsync(MirrorRoute mirror, string repository, Digest digest)
    {
        using var scope = mirror.Host.Begin();
        _owner.Requests.Add(1, new KeyValuePair<string, object?>("host", mirror.Key));
        using var timeout = new CancellationTokenSource(Options.StallTimeout, Time);
        try
        {
            bool present = await mirror.Host.Client.HeadManifestAsync(mirror.Key, repository, digest.ToString(), timeout.Token).ConfigureAwait(false) is not null;
            ReportSuccess(mirror);
            LogPresence(mirror.Key, repository, digest, present);
            return present;
        }
        catch (Exception ex) when (ex is not OperationCanceledException || timeout.IsCancellationRequested)
        {
            ReportFailure(mirror, "check", ex);
            return false;
        }
    }

    /// <summary>Remembers that <paramref name="route"/> holds (or lacks) an image root, learned from a manifest read.</summary>
    public void RecordPresence(MirrorRoute route, string repository, Digest root, bool present)
    {
        if (!route.IsOrigin)
        {
            _owner.Presence.Record(route.Key, repository, root, present);
        }
    }

    /// <summary>Registers <paramref name="root"/> as an image root (a manifest or index a user named by tag or digest).</summary>
    public void RegisterRoot(string repository, Digest root) => AddRoots(repository, root, [root]);

    /// <summary>Registers what <paramref name="document"/> references (child manifests, config, layers) under its roots.</summary>
    public void RegisterChildren(string repository, ManifestDocument document)
    {
        var roots = RootsOf(repository, document.Digest);
        if (roots.Length == 0)
        {
            roots = [document.Digest];
        }

        IEnumerable<Descriptor> children = document.Index is { } index
            ? index.Manifests
            : document.Manifest is { } manifest ? manifest.Layers.Prepend(manifest.Config) : [];
        foreach (var child in children)
        {
            AddRoots(repository, child.Digest, roots);
        }
    }

    private Digest[] RootsOf(string repository, Digest digest) => _roots.TryGetValue((repository, digest), out var roots) ? roots : [];

    private void AddRoots(string repository, Digest digest, Digest[] roots)
    {
        if (_roots.Count >= MaxContextEntries)
        {
            // Forgetting only means a later read of these digests asks every mirror; it is never wrong.
            _roots.Clear();
        }

        _roots.AddOrUpdate(
            (repository, digest),
            roots,
            (_, existing) => roots.All(existing.Contains) ? existing : [.. existing.Union(roots)]);
    }

    /// <summary>Records a success of <paramref name="route"/>.</summary>
    public void ReportSuccess(MirrorRoute route)
    {
        if (route.Host.Health.RecordSuccess())
        {
            LogRecovered(route.Key);
        }
    }

    /// <summary>Records a failure of <paramref name="route"/> (an error, a stall, bad bytes; not a 404).</summary>
    public void ReportFailure(MirrorRoute route, string reason, Exception? error)
    {
        route.Host.AddFailure();
        _owner.Failures.Add(1, new KeyValuePair<string, object?>("host", route.Key), new KeyValuePair<string, object?>("reason", reason));
        LogHostFailed(route.SourceName, reason, error?.Message ?? "");
        if (route.Host.Health.RecordFailure() is { } backoff)
        {
            LogHostOpened(route.Key, route.Host.Health.ConsecutiveFailures, backoff.TotalSeconds);
        }
    }

    /// <summary>Counts bytes received from <paramref name="route"/>.</summary>
    public void CountBytes(MirrorRoute route, long bytes)
    {
        route.Host.AddBytes(bytes);
        _owner.Bytes.Add(bytes, new KeyValuePair<string, object?>("host", route.Key));
    }

    /// <summary>Counts a request to <paramref name="route"/>.</summary>
    public MirrorHost.Scope Begin(MirrorRoute route)
    {
        _owner.Requests.Add(1, new KeyValuePair<string, object?>("host", route.Key));
        return route.Host.Begin();
    }

    public void LogFallback(string what, MirrorRoute from, string reason) => LogFailover(what, from.SourceName, reason);
}

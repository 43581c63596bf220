using System.Collections.Concurrent;

namespace Accelerator.Oci.Registry;

/// <summary>
/// Bearer tokens per (host, realm, service, scopes, credentials), kept until shortly before they expire. The credentials'
/// fingerprint is part of the key, so a token fetched with credentials that were since replaced (config.json updated, a
/// newer CRI pull) is not used for the new ones.
/// </summary>
internal sealed class TokenCache
{
    // Refresh a little early so a token never expires between the check and the request reaching the registry: 10 s, or a
    // fifth of a short token's lifetime.
    private static readonly TimeSpan MaxMargin = TimeSpan.FromSeconds(10);

    // Entries of credentials no longer used stay until they expire; past this many, expired ones are dropped on Set.
    private const int PruneAbove = 256;

    private readonly ConcurrentDictionary<string, (string Token, DateTimeOffset Expires)> _entries = new(StringComparer.Ordinal);
    private readonly TimeProvider _time;

    public TokenCache(TimeProvider time) => _time = time;

    public static string Key(string host, string realm, string? service, IReadOnlyCollection<string> scopes, RegistryCredentials? credentials)
        => string.Join('\n', host, realm, service ?? "", string.Join(' ', scopes.Order(StringComparer.Ordinal)), credentials?.Fingerprint() ?? "anonymous");

    public bool TryGet(string key, out string token)
    {
        if (_entries.TryGetValue(key, out var entry) && entry.Expires > _time.GetUtcNow())
        {
            token = entry.Token;
            return true;
        }

        token = string.Empty;
        return false;
    }

    /// <summary>Caches a token valid for <paramref name="lifetime"/> from <paramref name="issuedAt"/> (or from now).</summary>
    public void Set(string key, string token, TimeSpan lifetime, DateTimeOffset? issuedAt)
    {
        var now = _time.GetUtcNow();
        // Trust issued_at only when it is in the past and recent; clocks of registry and client differ.
        var start = issuedAt is { } issued && issued <= now && now - issued < lifetime ? issued : now;
        var margin = lifetime / 5 < MaxMargin ? lifetime / 5 : MaxMargin;
        var expires = start + lifetime - margin;
        if (expires > now)
        {
            _entries[key] = (token, expires);
        }

        if (_entries.Count > PruneAbove)
        {
            foreach (var (k, entry) in _entries)
            {
                if (entry.Expires <= now)
                {
                    _entries.TryRemove(new KeyValuePair<string, (string, DateTimeOffset)>(k, entry));
                }
            }
        }
    }

    /// <summary>
    /// Drops <paramref name="token"/> (the registry refused it), unless a newer token replaced it meanwhile: parallel
    /// requests refused with the same old token fetch one new token, not one each.
    /// </summary>
    public void Remove(string key, string token)
    {
        if (_entries.TryGetValue(key, out var entry) && entry.Token == token)
        {
            _entries.TryRemove(new KeyValuePair<string, (string, DateTimeOffset)>(key, entry));
        }
    }
}

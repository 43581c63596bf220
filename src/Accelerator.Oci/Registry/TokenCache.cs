using System.Collections.Concurrent;

namespace Accelerator.Oci.Registry;

/// <summary>Bearer tokens per (host, realm, service, scopes), kept until shortly before they expire.</summary>
internal sealed class TokenCache
{
    // Refresh a little early so a token never expires between the check and the request reaching the registry.
    private static readonly TimeSpan Margin = TimeSpan.FromSeconds(10);

    private readonly ConcurrentDictionary<string, (string Token, DateTimeOffset Expires)> _entries = new(StringComparer.Ordinal);
    private readonly TimeProvider _time;

    public TokenCache(TimeProvider time) => _time = time;

    public static string Key(string host, string realm, string? service, IReadOnlyCollection<string> scopes)
        => string.Join('\n', host, realm, service ?? "", string.Join(' ', scopes.Order(StringComparer.Ordinal)));

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
        var expires = start + lifetime - Margin;
        if (expires > now)
        {
            _entries[key] = (token, expires);
        }
    }

    public void Remove(string key) => _entries.TryRemove(key, out _);
}

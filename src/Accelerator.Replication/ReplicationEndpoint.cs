using System.Diagnostics.CodeAnalysis;
using Accelerator.Oci.Registry;

namespace Accelerator.Replication;

/// <summary>
/// A registry taking part in replication, <c>host[:port]</c> or <c>host[:port]/prefix</c>. As a source, the prefix
/// selects the repositories at or under it (<c>team</c> selects <c>team</c> and <c>team/app</c>, not <c>teamwork</c>);
/// as a target, the prefix is prepended to every repository name (<c>team/app</c> replicated to
/// <c>mirror:5000/copies</c> lands in <c>copies/team/app</c>). Without a prefix names are kept as they are.
/// </summary>
/// <param name="Registry">The registry host, <c>host[:port]</c>.</param>
/// <param name="Prefix">The repository prefix, or empty.</param>
public sealed record ReplicationEndpoint(string Registry, string Prefix)
{
    /// <summary>Parses <c>host[:port][/prefix]</c>; the host must look like one (a dot, a port, or <c>localhost</c>).</summary>
    public static ReplicationEndpoint Parse(string text)
        => TryParse(text, out var endpoint, out string? error) ? endpoint : throw new FormatException(error);

    /// <summary>Tries to parse <c>host[:port][/prefix]</c>, giving the reason on failure.</summary>
    public static bool TryParse(string? text, [NotNullWhen(true)] out ReplicationEndpoint? endpoint, [NotNullWhen(false)] out string? error)
    {
        endpoint = null;
        if (string.IsNullOrWhiteSpace(text) || text.Length > 512)
        {
            error = "A registry is empty or too long.";
            return false;
        }

        if (text.Contains("://", StringComparison.Ordinal))
        {
            error = $"Invalid registry '{text}': give host[:port][/prefix] without a scheme (use --plain-http for HTTP registries).";
            return false;
        }

        string trimmed = text.TrimEnd('/');
        int slash = trimmed.IndexOf('/');
        string host = slash < 0 ? trimmed : trimmed[..slash];
        string prefix = slash < 0 ? string.Empty : trimmed[(slash + 1)..];
        bool looksLikeHost = host.Contains('.') || host.Contains(':') || host == "localhost";
        if (!looksLikeHost
            || !ImageReference.TryParse(host + "/" + (prefix.Length > 0 ? prefix : "x"), out var parsed)
            || !string.Equals(parsed.Registry, host, StringComparison.OrdinalIgnoreCase)
            || (prefix.Length > 0 && parsed.Repository != prefix))
        {
            error = $"Invalid registry '{text}': expected host[:port][/prefix] with a lowercase repository prefix, e.g. registry.internal:5000/team.";
            return false;
        }

        error = null;
        endpoint = new ReplicationEndpoint(host, prefix);
        return true;
    }

    /// <summary>Whether <paramref name="repository"/> is at or under the prefix (every repository when there is none).</summary>
    public bool Contains(string repository)
    {
        ArgumentNullException.ThrowIfNull(repository);
        return Prefix.Length == 0
            || repository == Prefix
            || (repository.Length > Prefix.Length && repository[Prefix.Length] == '/' && repository.StartsWith(Prefix, StringComparison.Ordinal));
    }

    /// <summary>The name <paramref name="repository"/> gets in this endpoint as a target: the prefix prepended.</summary>
    public string MapToTarget(string repository)
    {
        ArgumentException.ThrowIfNullOrEmpty(repository);
        string mapped = Prefix.Length == 0 ? repository : $"{Prefix}/{repository}";
        RegistryClient.CheckRepository(mapped);
        return mapped;
    }

    /// <summary>The source name of a repository of this target (the prefix removed), or null when it is not under the prefix.</summary>
    public string? MapFromTarget(string repository)
    {
        ArgumentNullException.ThrowIfNull(repository);
        if (Prefix.Length == 0)
        {
            return repository;
        }

        return repository.Length > Prefix.Length + 1 && repository[Prefix.Length] == '/' && repository.StartsWith(Prefix, StringComparison.Ordinal)
            ? repository[(Prefix.Length + 1)..]
            : null;
    }

    /// <inheritdoc />
    public override string ToString() => Prefix.Length == 0 ? Registry : $"{Registry}/{Prefix}";
}

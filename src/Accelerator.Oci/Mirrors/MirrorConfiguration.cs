using Accelerator.Oci.Registry;
using Microsoft.Extensions.Options;

namespace Accelerator.Oci.Mirrors;

/// <summary>
/// The mirror sets in force: <see cref="MirrorOptions"/> validated and merged with the hosts directory it names. Load it
/// once with <see cref="Load"/>, apply its per-host settings to the registry options with <see cref="ApplyTo"/> before
/// the <see cref="RegistryClient"/> is created, then hand it to <see cref="MirroredRegistries"/>.
/// </summary>
public sealed class MirrorConfiguration
{
    private readonly Dictionary<string, RegistryMirrors> _registries;

    private MirrorConfiguration(MirrorOptions options, Dictionary<string, RegistryMirrors> registries, IReadOnlyList<string> warnings)
    {
        Options = options;
        _registries = registries;
        Warnings = warnings;
    }

    /// <summary>The options (do not change them after loading).</summary>
    public MirrorOptions Options { get; }

    /// <summary>The mirror sets by registry <c>host[:port]</c> (or <c>_default</c>): the hosts directory's, replaced by the options' own.</summary>
    public IReadOnlyDictionary<string, RegistryMirrors> Registries => _registries;

    /// <summary>Settings of the hosts directory that were ignored.</summary>
    public IReadOnlyList<string> Warnings { get; }

    /// <summary>Whether any registry has mirrors (or a server other than itself).</summary>
    public bool HasMirrors => Options.Mirrors.Count > 0 || _registries.Count > 0;

    /// <summary>
    /// Validates <paramref name="options"/> (throwing <see cref="OptionsValidationException"/>) and reads the hosts
    /// directory when one is named (throwing <see cref="HostsFileException"/> for a malformed file).
    /// </summary>
    public static MirrorConfiguration Load(MirrorOptions options)
    {
        MirrorOptionsValidator.ThrowIfInvalid(options);
        var registries = new Dictionary<string, RegistryMirrors>(StringComparer.OrdinalIgnoreCase);
        var warnings = new List<string>();
        if (options.HostsDirectory is { Length: > 0 } directory)
        {
            foreach (var (ns, file) in HostsDirectory.Load(directory))
            {
                registries[ns] = file.ToRegistryMirrors();
                warnings.AddRange(file.Warnings);
            }
        }

        foreach (var (key, mirrors) in options.Registries)
        {
            registries[key] = mirrors;
        }

        var configuration = new MirrorConfiguration(options, registries, warnings);
        // Conflicting per-host settings are found now rather than when the client is built.
        configuration.ApplyTo(new RegistryOptions());
        return configuration;
    }

    /// <summary>
    /// Adds what every endpoint's URL implies to <paramref name="registryOptions"/>: plain HTTP for an <c>http://</c> URL
    /// (that host only), skipping TLS verification, the API path, and headers. Throws
    /// <see cref="OptionsValidationException"/> when two endpoints on one host disagree.
    /// </summary>
    public void ApplyTo(RegistryOptions registryOptions)
    {
        ArgumentNullException.ThrowIfNull(registryOptions);
        var failures = new List<string>();
        var schemes = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var endpoint in AllEndpoints())
        {
            string key = HostKey(endpoint.Url);
            if (schemes.TryGetValue(key, out string? scheme) && scheme != endpoint.Url.Scheme)
            {
                failures.Add($"{key} is named with both http and https.");
                continue;
            }

            schemes[key] = endpoint.Url.Scheme;
            if (!registryOptions.Hosts.TryGetValue(key, out var host))
            {
                host = new RegistryHostOptions();
                registryOptions.Hosts[key] = host;
            }

            if (endpoint.Url.Scheme == Uri.UriSchemeHttp)
            {
                host.PlainHttp = true;
            }

            host.SkipTlsVerify |= endpoint.SkipTlsVerify;
            string apiPath = endpoint.ApiPath;
            string current = host.ApiPath ?? "/v2";
            if (apiPath != current)
            {
                if (host.ApiPath is not null)
                {
                    failures.Add($"{key} is named with two API paths, {host.ApiPath} and {apiPath}; one host serves one API root.");
                    continue;
                }

                host.ApiPath = apiPath;
            }

            foreach (var (name, values) in endpoint.Headers)
            {
                if (host.Headers.TryGetValue(name, out var existing) && !existing.SequenceEqual(values))
                {
                    failures.Add($"{key} is given two values for header {name}.");
                    continue;
                }

                host.Headers[name] = values;
            }
        }

        if (failures.Count > 0)
        {
            throw new OptionsValidationException(nameof(MirrorOptions), typeof(MirrorOptions), failures.Distinct());
        }
    }

    /// <summary>
    /// The mirror set of <paramref name="registry"/>: the common mirrors, then the registry's own (or the
    /// <c>_default</c> namespace's), and its server. Null when the registry has neither mirrors nor another server.
    /// </summary>
    internal (IReadOnlyList<MirrorEndpoint> Mirrors, MirrorEndpoint? Server)? For(string registry)
    {
        if (!_registries.TryGetValue(registry, out var own))
        {
            _registries.TryGetValue(MirrorOptions.DefaultNamespace, out own);
        }

        var mirrors = Options.Mirrors.Concat(own?.Mirrors ?? []).ToList();
        var server = own?.Server;
        return mirrors.Count == 0 && server is null ? null : (mirrors, server);
    }

    private IEnumerable<MirrorEndpoint> AllEndpoints()
    {
        foreach (var endpoint in Options.Mirrors)
        {
            yield return endpoint;
        }

        foreach (var mirrors in _registries.Values)
        {
            foreach (var endpoint in mirrors.Mirrors)
            {
                yield return endpoint;
            }

            if (mirrors.Server is { } server)
            {
                yield return server;
            }
        }
    }

    /// <summary>
    /// The registry host key of a URL, under which its credentials and settings live: <c>host[:port]</c> as an image
    /// reference would name it (with the port spelled out when the host alone would not read as a registry), and
    /// <c>docker.io</c> for Docker Hub's API hosts.
    /// </summary>
    public static string HostKey(Uri url)
    {
        ArgumentNullException.ThrowIfNull(url);
        string host = url.Host.ToLowerInvariant();
        if (url.IsDefaultPort && url.Scheme == Uri.UriSchemeHttps && host is "registry-1.docker.io" or "index.docker.io" or "docker.io")
        {
            return ImageReference.DockerHub;
        }

        string authority = url.Authority.ToLowerInvariant();
        return IsRegistryKey(authority) ? authority : $"{url.Host.ToLowerInvariant()}:{url.Port}";
    }

    /// <summary>Whether <paramref name="key"/> reads as a registry <c>host[:port]</c> in an image reference.</summary>
    internal static bool IsRegistryKey(string key)
        => key.Length is > 0 and <= 255 && ImageReference.TryParse(key + "/x", out var parsed)
           && string.Equals(parsed.Registry, key, StringComparison.OrdinalIgnoreCase);
}

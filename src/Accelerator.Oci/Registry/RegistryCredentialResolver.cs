using System.Collections.Concurrent;

namespace Accelerator.Oci.Registry;

/// <summary>
/// Finds the credentials for a request, in order: <see cref="RegistryOptions.CredentialSource"/> (per repository, e.g.
/// the latest CRI pull), the host's <see cref="RegistryOptions.Hosts"/> entry, docker's config.json (<c>auths</c>,
/// read again when the file changes: <see cref="DockerConfigFile"/>), and the credential helper config.json names for
/// the host (asked again after <see cref="RegistryOptions.CredentialHelperLifetime"/>). Every answer carries its
/// <see cref="RegistryCredentials.Source"/>. After a registry or token server refused what was sent,
/// <see cref="Refused"/> makes the next lookup read the file and ask the helper again.
/// </summary>
internal sealed class RegistryCredentialResolver
{
    // A burst of parallel 401s re-reads a source once, not once per request.
    private static readonly TimeSpan MinReaskInterval = TimeSpan.FromSeconds(1);

    private readonly RegistryOptions _options;
    private readonly DockerConfigFile _dockerConfig;
    private readonly TimeProvider _time;
    private readonly ConcurrentDictionary<string, HelperAnswer> _helperAnswers = new(StringComparer.OrdinalIgnoreCase);

    public RegistryCredentialResolver(RegistryOptions options, TimeProvider time)
    {
        _options = options;
        _time = time;
        _dockerConfig = new DockerConfigFile(options.DockerConfigPath ?? DockerConfigCredentials.DefaultPath(), time);
    }

    /// <summary>The docker config.json looked at.</summary>
    public string DockerConfigPath => _dockerConfig.Path;

    /// <summary>The credentials for a request to <paramref name="registry"/> under <paramref name="scopes"/>, or null (anonymous).</summary>
    public RegistryCredentials? Find(string registry, IReadOnlyList<string> scopes)
    {
        if (Given(registry, scopes) is { } given)
        {
            return given;
        }

        if (_options.GetHost(registry) is { } host && (host.Username is not null || host.IdentityToken is not null))
        {
            return new RegistryCredentials(host.Username, host.Password, host.IdentityToken) { Source = $"RegistryOptions.Hosts[{registry}]" };
        }

        var config = _dockerConfig.Current;
        if (config.Auths.TryGetValue(registry, out var fromConfig))
        {
            return fromConfig;
        }

        return config.HelperFor(registry) is { } helper ? AskHelper(helper, registry) : null;
    }

    /// <summary>
    /// What <see cref="RegistryOptions.CredentialSource"/> gives for the one repository <paramref name="scopes"/> name;
    /// nothing for a request naming none (a ping) or several (a cross-repository mount). Asked on every request, so a
    /// newer credential (a later CRI pull of the image) is used from the next request on.
    /// </summary>
    public RegistryCredentials? Given(string registry, IReadOnlyList<string> scopes)
    {
        if (_options.CredentialSource is not { } source)
        {
            return null;
        }

        string? repository = null;
        foreach (string scope in scopes)
        {
            // distribution token spec: "repository:NAME:ACTIONS"; a name has no ':' but the actions list may follow one.
            int last = scope.LastIndexOf(':');
            if (!scope.StartsWith("repository:", StringComparison.Ordinal) || last <= "repository:".Length)
            {
                continue;
            }

            string name = scope["repository:".Length..last];
            if (repository is not null && !string.Equals(repository, name, StringComparison.Ordinal))
            {
                return null;
            }

            repository = name;
        }

        if (repository is null || source.Find(registry, repository) is not { } found)
        {
            return null;
        }

        return found.Source is null ? found with { Source = $"{nameof(RegistryOptions)}.{nameof(RegistryOptions.CredentialSource)} for {registry}/{repository}" } : found;
    }

    /// <summary>
    /// <paramref name="registry"/> (or its token server) refused credentials or a token: the next lookup reads
    /// config.json again if it changed and asks the credential helper again (each at most once a second).
    /// </summary>
    public void Refused(string registry)
    {
        _dockerConfig.Recheck();
        if (_helperAnswers.TryGetValue(registry, out var answer) && _time.GetUtcNow() - answer.AskedAt >= MinReaskInterval)
        {
            _helperAnswers.TryRemove(new KeyValuePair<string, HelperAnswer>(registry, answer));
        }
    }

    /// <summary>Says where credentials for <paramref name="registry"/> were looked for, and names a credential helper that holds none.</summary>
    public string NoCredentialsHint(string registry)
    {
        string helper = _dockerConfig.Current.HelperFor(registry) is { } name
            ? $"; its credential helper docker-credential-{name} gave none"
            : "";
        return $"no credentials are configured for {registry} (RegistryOptions.Hosts, or auths in {_dockerConfig.Path}{helper})";
    }

    // Docker asks its helper on every pull; a daemon reading for days keeps the answer for a while, so that one
    // spawn serves many reads, and asks again once it is old or was refused.
    private RegistryCredentials? AskHelper(string helper, string registry)
    {
        var now = _time.GetUtcNow();
        var answer = _helperAnswers.AddOrUpdate(
            registry,
            static (r, state) => new HelperAnswer(state.helper, state.now, r),
            static (r, existing, state) => existing.Helper == state.helper && state.now - existing.AskedAt < state.lifetime
                ? existing
                : new HelperAnswer(state.helper, state.now, r),
            (helper, now, lifetime: _options.CredentialHelperLifetime));
        return answer.Credentials;
    }

    /// <summary>One helper's answer for one host, asked once however many requests wait for it.</summary>
    private sealed class HelperAnswer(string helper, DateTimeOffset askedAt, string registry)
    {
        private readonly Lazy<RegistryCredentials?> _credentials = new(
            () => DockerCredentialHelper.Get(helper, registry) is { } found ? found with { Source = $"credential helper docker-credential-{helper}" } : null);

        public string Helper { get; } = helper;

        public DateTimeOffset AskedAt { get; } = askedAt;

        public RegistryCredentials? Credentials => _credentials.Value;
    }
}

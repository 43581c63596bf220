using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;

namespace Accelerator.Oci.Registry;

/// <summary>
/// Options of a <see cref="RegistryClient"/>: per-host settings, credentials lookup, retries, timeouts and bounds.
/// Validated when the client is created (<see cref="RegistryOptionsValidator"/>).
/// </summary>
public sealed partial class RegistryOptions : IValidatableObject
{
    /// <summary>The largest manifest the protocol allows us to accept: 4 MiB, as registries themselves enforce.</summary>
    public const long ManifestLimit = 4 * 1024 * 1024;

    /// <summary>
    /// Settings per registry host. The key is <c>host[:port]</c> exactly as in <see cref="ImageReference.Registry"/>
    /// (compared case-insensitively). From configuration, see <see cref="Bind(IConfiguration)"/>: a <c>host:port</c>
    /// cannot be a configuration key, so hosts are listed as <c>[ { "Host": "localhost:5000", ... } ]</c>.
    /// </summary>
    /// <value>Empty by default: every host uses HTTPS with verified TLS and credentials from docker's config.json.</value>
    public IDictionary<string, RegistryHostOptions> Hosts { get; } = new Dictionary<string, RegistryHostOptions>(StringComparer.OrdinalIgnoreCase);

    /// <summary>Talk plain HTTP to every host (the CLI's <c>--plain-http</c>); otherwise per host.</summary>
    /// <value>Default <see langword="false"/>: HTTPS only.</value>
    public bool PlainHttp { get; set; }

    /// <summary>The docker config.json to read credentials (<c>auths</c>) from.</summary>
    /// <value>Default <see langword="null"/>: <c>$DOCKER_CONFIG/config.json</c>, else <c>~/.docker/config.json</c>. A missing file means no credentials.</value>
    public string? DockerConfigPath { get; set; }

    /// <summary>
    /// Credentials given per image (e.g. captured from CRI pull requests), asked first for a request that names one
    /// repository; what it answers goes to that registry only. See <see cref="IRegistryCredentialSource"/>.
    /// </summary>
    /// <value>Default <see langword="null"/>: only the configured hosts, docker's config.json and credential helpers.</value>
    public IRegistryCredentialSource? CredentialSource { get; set; }

    /// <summary>
    /// How long the answer of a docker credential helper (<c>credHelpers</c>, <c>credsStore</c>) is used before the helper
    /// is asked again. It is also asked again at once (at most once a second) after the registry refused what it gave.
    /// docker's config.json itself is read again whenever it changes (checked on use, at most once a second).
    /// </summary>
    /// <value>Default 10 minutes.</value>
    [Range(typeof(TimeSpan), "00:00:01", "1.00:00:00")]
    public TimeSpan CredentialHelperLifetime { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>Retries after a 5xx, a 429, a timeout or a connection error, for requests that can be replayed.</summary>
    /// <value>Default 4.</value>
    [Range(0, 20)]
    public int MaxRetries { get; set; } = 4;

    /// <summary>The first retry delay; later ones grow exponentially, with jitter. A <c>Retry-After</c> header wins.</summary>
    /// <value>Default 500 ms.</value>
    [Range(typeof(TimeSpan), "00:00:00", "00:05:00")]
    public TimeSpan RetryBaseDelay { get; set; } = TimeSpan.FromMilliseconds(500);

    /// <summary>How long one attempt may take until the response headers arrive (bodies stream without this limit).</summary>
    /// <value>Default 30 s.</value>
    [Range(typeof(TimeSpan), "00:00:00.010", "01:00:00")]
    public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Blobs fetched at once by <see cref="RegistryClient.DownloadBlobsAsync(string, string, IEnumerable{Descriptor}, Func{Descriptor, Stream, CancellationToken, ValueTask}, CancellationToken)"/>.</summary>
    /// <value>Default 4.</value>
    [Range(1, 64)]
    public int MaxParallelDownloads { get; set; } = 4;

    /// <summary>The largest manifest accepted; larger ones are refused before or while reading.</summary>
    /// <value>Default 4 MiB, which is also the maximum.</value>
    [Range(1, ManifestLimit)]
    public long MaxManifestBytes { get; set; } = ManifestLimit;

    /// <summary>Blobs of at least this size are pushed in chunks (POST, PATCH…, PUT); smaller ones in one PUT.</summary>
    /// <value>Default 64 MiB.</value>
    [Range(1, long.MaxValue)]
    public long ChunkedUploadThreshold { get; set; } = 64L * 1024 * 1024;

    /// <summary>The size of one PATCH in a chunked upload.</summary>
    /// <value>Default 16 MiB.</value>
    [Range(1024, 1024 * 1024 * 1024)]
    public int UploadChunkSize { get; set; } = 16 * 1024 * 1024;

    /// <summary>Redirects followed for one request.</summary>
    /// <value>Default 5.</value>
    [Range(0, 20)]
    public int MaxRedirects { get; set; } = 5;

    /// <summary>
    /// Follow a blob redirect to another origin on a loopback or link-local address (127.0.0.0/8, ::1, 169.254.0.0/16,
    /// fe80::/10). Off by default: a registry could otherwise point reads at services on this host or at a cloud's
    /// instance metadata. Turn it on only for a registry whose storage really is on such an address (a test setup).
    /// </summary>
    /// <value>Default false.</value>
    public bool AllowLocalRedirectTargets { get; set; }

    /// <summary>The most tags a tag listing returns before it is refused as too large.</summary>
    /// <value>Default 100 000.</value>
    [Range(1, 10_000_000)]
    public int MaxTags { get; set; } = 100_000;

    /// <summary>The User-Agent header sent with every request.</summary>
    /// <value>Default <c>accelerator/1.0</c>.</value>
    [Required]
    public string UserAgent { get; set; } = "accelerator/1.0";

    /// <summary>A shallow copy (the host settings are shared), for a second client with other retry or timeout settings.</summary>
    internal RegistryOptions Clone() => (RegistryOptions)MemberwiseClone();

    /// <summary>The settings of <paramref name="registry"/>, or <see langword="null"/>.</summary>
    internal RegistryHostOptions? GetHost(string registry) => Hosts.TryGetValue(registry, out var host) ? host : null;

    /// <summary>Whether plain HTTP is allowed for <paramref name="registry"/>.</summary>
    internal bool UsesPlainHttp(string registry) => PlainHttp || GetHost(registry)?.PlainHttp == true;

    /// <summary>The rules across fields: host keys, credentials, API paths and headers.</summary>
    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        foreach (var (key, host) in Hosts)
        {
            if (string.IsNullOrEmpty(key) || !ImageReference.TryParse(key + "/x", out var parsed) || !string.Equals(parsed.Registry, key, StringComparison.OrdinalIgnoreCase))
            {
                yield return new ValidationResult($"Hosts: '{key}' is not a registry host[:port].");
            }

            if (host is null)
            {
                yield return new ValidationResult($"Hosts[{key}]: is null.");
            }
            else
            {
                if (host.Username is not null != host.Password is not null)
                {
                    yield return new ValidationResult($"Hosts[{key}]: Username and Password go together.");
                }

                if (host.ApiPath is { } path && (!path.StartsWith('/') || path.Contains('?') || path.Contains('#') || path.Contains("//", StringComparison.Ordinal)))
                {
                    yield return new ValidationResult($"Hosts[{key}]: ApiPath '{path}' must be an absolute path without query, fragment or empty segments.");
                }

                foreach (var (name, values) in host.Headers)
                {
                    if (string.IsNullOrEmpty(name) || name.Any(c => c <= ' ' || c >= 0x7f || c == ':') || values is null
                        || values.Any(v => v is null || v.Any(c => c == '\r' || c == '\n' || c == '\0')))
                    {
                        yield return new ValidationResult($"Hosts[{key}]: header '{name}' is not a valid HTTP header name and values.");
                    }
                }
            }
        }
    }
}

/// <summary>Settings of one registry host.</summary>
public sealed class RegistryHostOptions
{
    /// <summary>Talk plain HTTP to this host.</summary>
    /// <value>Default <see langword="false"/>.</value>
    public bool PlainHttp { get; set; }

    /// <summary>User name for basic auth or for the token server; overrides docker's config.json.</summary>
    /// <value>Default <see langword="null"/>.</value>
    public string? Username { get; set; }

    /// <summary>Password for <see cref="Username"/>.</summary>
    /// <value>Default <see langword="null"/>.</value>
    public string? Password { get; set; }

    /// <summary>An OAuth2 refresh token (docker's <c>identitytoken</c>), exchanged at the token server.</summary>
    /// <value>Default <see langword="null"/>.</value>
    public string? IdentityToken { get; set; }

    /// <summary>Accept any TLS certificate from this host (test registries only).</summary>
    /// <value>Default <see langword="false"/>.</value>
    public bool SkipTlsVerify { get; set; }

    /// <summary>
    /// The path of the distribution API root on this host, for registries and mirrors that serve it elsewhere than
    /// <c>/v2</c> (containerd's <c>override_path</c>, e.g. <c>/v2/upstream</c>, or a path prefix such as <c>/us/v2</c>).
    /// </summary>
    /// <value>Default <see langword="null"/>: <c>/v2</c>.</value>
    public string? ApiPath { get; set; }

    /// <summary>
    /// Extra headers sent with every request to this host (containerd's <c>header</c>); never to another host, so not
    /// after a redirect that leaves it, and not to its token server.
    /// </summary>
    /// <value>Empty by default.</value>
    public IDictionary<string, IReadOnlyList<string>> Headers { get; } = new Dictionary<string, IReadOnlyList<string>>(StringComparer.OrdinalIgnoreCase);
}

/// <summary>
/// Validates <see cref="RegistryOptions"/> (generated from its data annotations and its rules across fields): at a
/// host's start, and when a <see cref="RegistryClient"/> is created (<see cref="ThrowIfInvalid"/>).
/// </summary>
[OptionsValidator]
public sealed partial class RegistryOptionsValidator : IValidateOptions<RegistryOptions>
{
    /// <summary>Validates <paramref name="options"/> and throws <see cref="OptionsValidationException"/> on failure.</summary>
    public static void ThrowIfInvalid(RegistryOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (new RegistryOptionsValidator().Validate(null, options) is { Failed: true } result)
        {
            throw new OptionsValidationException(nameof(RegistryOptions), typeof(RegistryOptions), result.Failures);
        }
    }
}

using System.ComponentModel.DataAnnotations;
using Accelerator.Hosting;
using Microsoft.Extensions.Options;

namespace Accelerator.P2P.Proxy;

/// <summary>Options of a <see cref="RegistryMirrorProxy"/>, checked by <see cref="RegistryMirrorProxyOptionsValidator"/>.</summary>
public sealed class RegistryMirrorProxyOptions : IValidatableObject
{
    /// <summary>The default bound on a manifest passed through (the distribution spec's recommended 4 MiB).</summary>
    public const long DefaultMaxManifestBytes = 4 * 1024 * 1024;

    /// <summary>Where to listen, <c>http://ADDRESS:PORT</c> or <c>https://</c> with <see cref="Tls"/> (port 0: any free port). Required.</summary>
    public Uri? Listen { get; set; }

    /// <summary>
    /// TLS for an <c>https://</c> <see cref="Listen"/> URL: certificate and key files (re-read when they change) and,
    /// optionally, the certificate authority whose client certificates are required.
    /// <value>Default: null, plain HTTP.</value>
    /// </summary>
    [ValidateObjectMembers(typeof(ListenerTlsOptionsValidator))]
    public ListenerTlsOptions? Tls { get; set; }

    /// <summary>
    /// The registry (<c>host[:port]</c>; <c>docker.io</c> means Docker Hub) a request goes to when it names none with
    /// containerd's <c>ns</c> query parameter — docker's <c>registry-mirrors</c> never does.
    /// </summary>
    /// <value>Null: requests without <c>ns</c> are refused with <c>NAME_UNKNOWN</c>.</value>
    public string? Upstream { get; set; }

    /// <summary>
    /// The registries (<c>host[:port]</c>) this mirror serves besides <see cref="Upstream"/>; a request for another one
    /// (by <c>ns</c>) is refused with 403 (<c>DENIED</c>), so the peer cannot be used to reach arbitrary hosts. Required
    /// (non-empty) when <see cref="Listen"/> is not a loopback address.
    /// </summary>
    /// <value>Empty: on a loopback listener, any registry a client names.</value>
    public IList<string> AllowedUpstreams { get; } = new List<string>();

    /// <summary>Talk to upstream registries over plain HTTP instead of HTTPS.</summary>
    /// <value>False.</value>
    public bool PlainHttpUpstream { get; set; }

    /// <summary>
    /// Before serving a blob through P2P, ask the upstream registry (a HEAD, no bytes) with the client's own
    /// <c>Authorization</c> whether the client may read it, and pass a refusal (401 with the registry's challenge, 403,
    /// 404) back unchanged. The answer is remembered for <see cref="AuthorizationCacheDuration"/> per credential, blob
    /// and repository, so lazy mounts reading many ranges ask once.
    /// </summary>
    /// <value>True. Turn it off only where every client may read every blob.</value>
    public bool AuthorizeBlobReads { get; set; } = true;

    /// <summary>How long an upstream authorization answer is reused.</summary>
    /// <value>One minute.</value>
    public TimeSpan AuthorizationCacheDuration { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>The largest manifest passed through; larger ones are refused (<c>MANIFEST_INVALID</c>, 502).</summary>
    /// <value>4 MiB.</value>
    public long MaxManifestBytes { get; set; } = DefaultMaxManifestBytes;

    /// <summary>How long a request to the upstream registry may take.</summary>
    /// <value>30 seconds.</value>
    public TimeSpan UpstreamTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Blob requests served at once; more wait their turn.</summary>
    /// <value>64.</value>
    public int MaxConcurrentBlobRequests { get; set; } = 64;

    /// <summary>
    /// Checks the options with <see cref="RegistryMirrorProxyOptionsValidator"/> and throws <see cref="ArgumentException"/>
    /// naming every problem.
    /// </summary>
    public void Validate()
    {
        if (new RegistryMirrorProxyOptionsValidator().Validate(Options.DefaultName, this) is { Failed: true } result)
        {
            throw new ArgumentException(result.FailureMessage);
        }
    }

    /// <summary>The rules across fields: the listener and TLS, who may be reached beyond loopback, timeouts and concurrency.</summary>
    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (ListenerTlsOptions.CheckScheme(Listen, Tls) is { } problem)
        {
            yield return new ValidationResult($"Proxy listen address: {problem}.");
        }
        else if (!KestrelListener.IsLoopback(Listen!) && AllowedUpstreams.Count == 0)
        {
            yield return new ValidationResult(
                $"The proxy listens beyond loopback ({Listen!.Host}): name the registries it may serve with AllowedUpstreams (--allow-upstream REGISTRY); otherwise anyone who reaches it can make it fetch from any host.");
        }

        if (Upstream is not null && !UpstreamRegistry.IsValidHost(Upstream))
        {
            yield return new ValidationResult($"Upstream: '{Upstream}' is not a registry host[:port].");
        }

        if (AllowedUpstreams.Any(r => !UpstreamRegistry.IsValidHost(r)))
        {
            yield return new ValidationResult("AllowedUpstreams: every entry must be a registry host[:port].");
        }

        if (MaxManifestBytes is < 1024 or > 64 * 1024 * 1024)
        {
            yield return new ValidationResult("MaxManifestBytes must be between 1 KiB and 64 MiB.");
        }

        if (UpstreamTimeout <= TimeSpan.Zero || AuthorizationCacheDuration < TimeSpan.Zero)
        {
            yield return new ValidationResult("UpstreamTimeout must be positive and AuthorizationCacheDuration not negative.");
        }

        if (MaxConcurrentBlobRequests < 1)
        {
            yield return new ValidationResult("MaxConcurrentBlobRequests must be at least 1.");
        }
    }
}

/// <summary>Validates <see cref="RegistryMirrorProxyOptions"/> (generated from its data annotations, its rules and its TLS options' rules).</summary>
[OptionsValidator]
public sealed partial class RegistryMirrorProxyOptionsValidator : IValidateOptions<RegistryMirrorProxyOptions>
{
}

using System.ComponentModel.DataAnnotations;
using Accelerator.Hosting;
using Accelerator.Oci.Registry;
using Microsoft.Extensions.Options;

namespace Accelerator.P2P.Scheduling;

/// <summary>
/// Options of a scheduler served over HTTP (<see cref="P2PSchedulerService"/>, <see cref="P2PSchedulerServer"/>), checked by
/// <see cref="P2PSchedulerServerOptionsValidator"/> (through <see cref="Validate()"/> when a scheduler starts).
/// </summary>
public sealed class P2PSchedulerServerOptions : IValidatableObject
{
    /// <summary>The URL to listen on (<c>http://host:port</c>, or <c>https://</c> with <see cref="Tls"/>; port 0 picks a free one).</summary>
    /// <value>Default <c>http://127.0.0.1:0</c>.</value>
    [Required]
    public Uri Listen { get; set; } = new("http://127.0.0.1:0");

    /// <summary>
    /// TLS for an <c>https://</c> <see cref="Listen"/> URL: certificate and key files (re-read when they change) and,
    /// optionally, the certificate authority whose client certificates are required.
    /// <value>Default: null, plain HTTP.</value>
    /// </summary>
    [ValidateObjectMembers(typeof(ListenerTlsOptionsValidator))]
    public ListenerTlsOptions? Tls { get; set; }

    /// <summary>The decision logic's options.</summary>
    [Required]
    [ValidateObjectMembers(typeof(P2PSchedulerOptionsValidator))]
    public P2PSchedulerOptions Scheduler { get; set; } = new();

    /// <summary>
    /// How the scheduler talks to registries for access checks and preheat (plain HTTP, TLS, API paths). Credentials
    /// here are never used: every check uses the credential the peer forwarded, or none.
    /// </summary>
    [Required]
    [ValidateObjectMembers(typeof(RegistryOptionsValidator))]
    public RegistryOptions Registry { get; set; } = new();

    /// <summary>How long an access check's result is reused for the same blob and credential.</summary>
    /// <value>Default 1 minute.</value>
    [Range(typeof(TimeSpan), "00:00:00", "01:00:00")]
    public TimeSpan AccessCacheDuration { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>
    /// The registries (<c>host[:port]</c>, compared without case) this scheduler vouches for: a task registration or a
    /// preheat naming any other registry is refused (403) before the scheduler sends it a request. The scheduler issues a
    /// task token only after one of these registries confirmed the peer's credential may read the blob, so whoever can
    /// make a listed registry answer 200 can join its tasks: list only registries you trust.
    /// </summary>
    /// <value>Empty by default: every registration is refused.</value>
    public IList<string> TrustedRegistries { get; } = new List<string>();

    /// <summary>
    /// The operator credential: <c>POST /api/v1/preheat</c> and seed status (a peer announcing <c>seed: true</c>) need it
    /// as <c>Authorization: Bearer TOKEN</c>. At least 16 characters.
    /// </summary>
    /// <value>Default <see langword="null"/>: preheat is refused and no peer may be a seed.</value>
    public string? OperatorToken { get; set; }

    /// <summary>Whether <paramref name="registry"/> is one of <see cref="TrustedRegistries"/>.</summary>
    public bool Trusts(string registry) => TrustedRegistries.Contains(registry, StringComparer.OrdinalIgnoreCase);

    /// <summary>
    /// Checks the options (with the scheduler's, the registry's and the TLS options) with
    /// <see cref="P2PSchedulerServerOptionsValidator"/> and throws <see cref="ValidationException"/> naming every problem.
    /// </summary>
    public void Validate()
    {
        if (new P2PSchedulerServerOptionsValidator().Validate(Options.DefaultName, this) is { Failed: true } result)
        {
            throw new ValidationException(result.FailureMessage);
        }
    }

    /// <summary>The rules across fields: the listener and TLS, the trusted registries, the operator token.</summary>
    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (ListenerTlsOptions.CheckScheme(Listen, Tls) is { } problem)
        {
            yield return new ValidationResult($"Listen: {problem}.");
        }

        foreach (string registry in TrustedRegistries)
        {
            if (!Proxy.UpstreamRegistry.IsValidHost(registry))
            {
                yield return new ValidationResult($"TrustedRegistries (--trust-registry): '{registry}' is not a registry host[:port].");
            }
        }

        if (OperatorToken is { Length: < 16 } || OperatorToken?.Any(c => c <= ' ' || c > '~') == true)
        {
            yield return new ValidationResult("OperatorToken must be at least 16 printable ASCII characters without spaces.");
        }
    }
}

/// <summary>
/// Validates <see cref="P2PSchedulerServerOptions"/> (generated from its data annotations and rules, with the scheduler's,
/// the registry's and the TLS options' validators).
/// </summary>
[OptionsValidator]
public sealed partial class P2PSchedulerServerOptionsValidator : IValidateOptions<P2PSchedulerServerOptions>
{
}

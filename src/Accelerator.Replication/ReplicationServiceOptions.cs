using System.ComponentModel.DataAnnotations;
using Accelerator.Hosting;
using Microsoft.Extensions.Options;

namespace Accelerator.Replication;

/// <summary>Options of a <see cref="ReplicationService"/>, checked by <see cref="ReplicationServiceOptionsValidator"/>.</summary>
public sealed class ReplicationServiceOptions : IValidatableObject
{
    /// <summary>The largest notification body accepted by default: 1 MiB (docker-registry sends one event, about 1 KiB).</summary>
    public const long DefaultMaxRequestBodyBytes = 1024 * 1024;

    /// <summary>The default bound on the queue: 10,000 tags.</summary>
    public const int DefaultMaxQueueLength = 10_000;

    /// <summary>
    /// Where to listen: <c>http://ADDRESS:PORT</c> (or <c>https://</c> with <see cref="Tls"/>) with an IP address, <c>localhost</c>, or <c>*</c>/<c>0.0.0.0</c> for
    /// every interface; port 0 picks a free port (see <see cref="ReplicationService.Url"/>). Required.
    /// </summary>
    public Uri? Listen { get; set; }

    /// <summary>
    /// TLS for an <c>https://</c> <see cref="Listen"/> URL: certificate and key files (re-read when they change) and,
    /// optionally, the certificate authority whose client certificates are required.
    /// <value>Default: null, plain HTTP.</value>
    /// </summary>
    [ValidateObjectMembers(typeof(ListenerTlsOptionsValidator))]
    public ListenerTlsOptions? Tls { get; set; }

    /// <summary>The path docker-registry POSTs its notifications to. <value>Default: <c>/events</c>.</value></summary>
    public string EventsPath { get; set; } = "/events";

    /// <summary>The directory of the durable event queue (created if missing). Required.</summary>
    [Required(ErrorMessage = "DataDirectory is required.")]
    public string? DataDirectory { get; set; }

    /// <summary>
    /// The token a notification must carry as <c>Authorization: Bearer TOKEN</c> (docker-registry sends it from the
    /// endpoint's <c>headers</c>); others get 401. Required unless <see cref="AllowUnauthenticated"/> is set.
    /// <value>Default: null.</value>
    /// </summary>
    public string? BearerToken { get; set; }

    /// <summary>
    /// Accept notifications without a bearer token. Allowed only when <see cref="Listen"/> is a loopback address
    /// (<c>127.0.0.1</c>, <c>[::1]</c>, <c>localhost</c>): anyone who can reach the listener could otherwise make the
    /// service replicate. <value>Default: false.</value>
    /// </summary>
    public bool AllowUnauthenticated { get; set; }

    /// <summary>
    /// The most tags waiting in the queue; a notification that would add more is refused with 503 (docker-registry
    /// sends it again later), so a flood of events cannot fill the disk. Events for a tag already queued always fit.
    /// <value>Default: 10,000.</value>
    /// </summary>
    public int MaxQueueLength { get; set; } = DefaultMaxQueueLength;

    /// <summary>Bodies larger than this get 413 and are not read further. <value>Default: 1 MiB.</value></summary>
    public long MaxRequestBodyBytes { get; set; } = DefaultMaxRequestBodyBytes;

    /// <summary>
    /// The registry to replicate from, whatever host an event names. Either this or <see cref="SourceRegistries"/> is
    /// required, so that an event can never make the service read from a registry it was not told about.
    /// <value>Default: null.</value>
    /// </summary>
    public string? SourceRegistry { get; set; }

    /// <summary>
    /// The registries (<c>host[:port]</c>, as their clients address them) the service replicates from: an event's
    /// <c>request.host</c> must be one of them, and the push is read from that registry. A notification naming any
    /// other host is refused with 403 and logged (a forged event cannot name an attacker's registry).
    /// <value>Default: empty (then <see cref="SourceRegistry"/> is required).</value>
    /// </summary>
    public IList<string> SourceRegistries { get; } = new List<string>();

    /// <summary>Which <c>repository:tag</c> pushes are replicated; others are acknowledged and dropped. <value>Default: all.</value></summary>
    [Required(ErrorMessage = "Filter is required.")]
    public ReplicationFilter Filter { get; set; } = ReplicationFilter.All;

    /// <summary>Tags replicated at once. <value>Default: 2.</value></summary>
    public int MaxConcurrentReplications { get; set; } = 2;

    /// <summary>The wait after the first failed attempt; it doubles with each further failure (±20% jitter). <value>Default: 1 s.</value></summary>
    public TimeSpan RetryBaseDelay { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>The longest wait between attempts; events are retried for as long as it takes. <value>Default: 5 min.</value></summary>
    public TimeSpan RetryMaxDelay { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>
    /// How long after an event a tag the source does not show is looked for again (docker-registry sends the push event
    /// just before it links the tag); after that the event is dropped as obsolete (the tag was deleted).
    /// <value>Default: 30 s.</value>
    /// </summary>
    public TimeSpan TagGracePeriod { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>The rules across fields: listener and TLS, authentication, sources, queue, retries and concurrency.</summary>
    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (ListenerTlsOptions.CheckScheme(Listen, Tls) is { } listenProblem)
        {
            yield return new ValidationResult($"Listen: {listenProblem}.");
        }

        if (string.IsNullOrEmpty(EventsPath) || EventsPath[0] != '/')
        {
            yield return new ValidationResult("EventsPath must start with '/'.");
        }

        if (BearerToken is { Length: 0 } || BearerToken?.Any(char.IsWhiteSpace) == true)
        {
            yield return new ValidationResult("BearerToken must be non-empty and without spaces.");
        }

        if (BearerToken is null && !AllowUnauthenticated)
        {
            yield return new ValidationResult("A BearerToken is required (--auth-token-file); only a loopback listener may accept unauthenticated notifications (AllowUnauthenticated, --insecure-no-auth).");
        }
        else if (BearerToken is null && Listen is not null && !KestrelListener.IsLoopback(Listen))
        {
            yield return new ValidationResult($"AllowUnauthenticated (--insecure-no-auth) needs a loopback listener, not {Listen.Host}: anyone who reaches it could make the service replicate.");
        }

        if (MaxQueueLength < 1)
        {
            yield return new ValidationResult("MaxQueueLength must be at least 1.");
        }

        if (SourceRegistry is null && SourceRegistries.Count == 0)
        {
            yield return new ValidationResult("Name the registries to replicate from (SourceRegistries, --from REGISTRY; or SourceRegistry, --source): an event's own request.host is never trusted.");
        }
        else if (SourceRegistry is not null && SourceRegistries.Count > 0)
        {
            yield return new ValidationResult("Set either SourceRegistry (--source) or SourceRegistries (--from), not both.");
        }

        if (SourceRegistries.Any(r => !ReplicationEndpoint.TryParse(r, out var e, out _) || e.Prefix.Length > 0))
        {
            yield return new ValidationResult("SourceRegistries must hold registry host[:port] names.");
        }

        if (MaxRequestBodyBytes is < 1024 or > 64 * 1024 * 1024)
        {
            yield return new ValidationResult("MaxRequestBodyBytes must be between 1 KiB and 64 MiB.");
        }

        if (SourceRegistry is not null && (!ReplicationEndpoint.TryParse(SourceRegistry, out var source, out _) || source.Prefix.Length > 0))
        {
            yield return new ValidationResult("SourceRegistry must be a registry host[:port].");
        }

        if (TagGracePeriod < TimeSpan.Zero)
        {
            yield return new ValidationResult("TagGracePeriod must not be negative.");
        }

        if (MaxConcurrentReplications < 1)
        {
            yield return new ValidationResult("MaxConcurrentReplications must be at least 1.");
        }

        if (RetryBaseDelay <= TimeSpan.Zero || RetryMaxDelay < RetryBaseDelay)
        {
            yield return new ValidationResult("RetryBaseDelay must be positive and RetryMaxDelay at least as long.");
        }
    }
}

/// <summary>
/// Validates <see cref="ReplicationServiceOptions"/> (generated from its data annotations, its rules and its TLS options'
/// rules); <see cref="ReplicationService"/> reports failures as "Invalid replication service options: …".
/// </summary>
[OptionsValidator]
public sealed partial class ReplicationServiceOptionsValidator : IValidateOptions<ReplicationServiceOptions>
{
}

/// <summary>Counters of a <see cref="ReplicationService"/>, also served as Prometheus text on <c>/metrics</c>.</summary>
/// <param name="EventsReceived">Events received in accepted notifications.</param>
/// <param name="EventsQueued">Events written to the queue (tagged manifest pushes in scope).</param>
/// <param name="EventsIgnored">Events acknowledged but not acted on (pulls, blob pushes, deletes, out of scope).</param>
/// <param name="NotificationsRejected">Notifications refused (401, 403, 413, 415, 400, 503).</param>
/// <param name="Replicated">Queue entries replicated to every target.</param>
/// <param name="Failures">Replication attempts that failed (each is retried).</param>
/// <param name="QueueLength">Entries waiting or in flight.</param>
public sealed record ReplicationServiceMetrics(long EventsReceived, long EventsQueued, long EventsIgnored, long NotificationsRejected, long Replicated, long Failures, int QueueLength);

using System.ComponentModel.DataAnnotations;
using Accelerator.Hosting;
using Accelerator.Oci.Registry;
using Accelerator.P2P.Protocol;
using Microsoft.Extensions.Options;

namespace Accelerator.P2P.Peers;

/// <summary>
/// Options of a <see cref="P2PPeer"/>, checked by <see cref="P2PPeerOptionsValidator"/> (through <see cref="Validate()"/>
/// when the peer starts).
/// </summary>
public sealed class P2PPeerOptions : IValidatableObject
{
    /// <summary>The peer's identity (1–128 characters of <c>[A-Za-z0-9._:-]</c>).</summary>
    /// <value>Default <see langword="null"/>: the machine name and a random suffix.</value>
    public string? PeerId { get; set; }

    /// <summary>The URL the piece API listens on (<c>http://ip-or-localhost:port</c>, or <c>https://</c> with <see cref="Tls"/>; port 0 picks a free one).</summary>
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

    /// <summary>
    /// TLS of the peer's own requests to schedulers and parents: the certificate authorities to trust and the client
    /// certificate to present where mutual TLS is required. <value>Default: null, the system's roots and no client certificate.</value>
    /// </summary>
    [ValidateObjectMembers(typeof(ClientTlsOptionsValidator))]
    public ClientTlsOptions? ClientTls { get; set; }

    /// <summary>The URL other peers reach the piece API at, when it differs from the listen URL (e.g. listening on 0.0.0.0).</summary>
    /// <value>Default <see langword="null"/>: the bound listen URL.</value>
    public Uri? AdvertisedUrl { get; set; }

    /// <summary>The schedulers; a task picks one by consistent hashing and fails over along the ring.</summary>
    /// <value>Empty by default: every read goes straight to the registry.</value>
    public IList<Uri> Schedulers { get; } = [];

    /// <summary>The directory of the piece store (kept across restarts).</summary>
    /// <value>Required.</value>
    [Required]
    public string? DataDirectory { get; set; }

    /// <summary>The most bytes the piece store keeps; least recently used pieces are evicted beyond it.</summary>
    /// <value>Default 10 GiB.</value>
    [Range(1L, long.MaxValue)]
    public long CapacityBytes { get; set; } = 10L * 1024 * 1024 * 1024;

    /// <summary>
    /// The most bytes of recently stored pieces kept in memory as well: they were verified on arrival, so serving them
    /// (to other peers or to the local reader) needs no disk read and no re-hash. Pieces read back from disk are always
    /// re-hashed. 0 turns the cache off.
    /// </summary>
    /// <value>Default 256 MiB.</value>
    [Range(0L, long.MaxValue)]
    public long MemoryCacheBytes { get; set; } = 256L * 1024 * 1024;

    /// <summary>A seed peer: preferred for back-to-source, and preheats the blobs the scheduler names.</summary>
    /// <value>Default <see langword="false"/>.</value>
    public bool Seed { get; set; }

    /// <summary>Where the peer is (host, rack, zone), for the scheduler's locality scoring.</summary>
    /// <value>Default: the machine name as host, no rack or zone.</value>
    [Required]
    public PeerLocality Locality { get; set; } = new() { Host = Environment.MachineName };

    /// <summary>Pieces uploaded at once; more requests get 503 and try another parent.</summary>
    /// <value>Default 8.</value>
    [Range(1, 1024)]
    public int UploadSlots { get; set; } = 8;

    /// <summary>The upload bandwidth, bytes per second, shared by every upload.</summary>
    /// <value>Default 0: unlimited.</value>
    [Range(0L, long.MaxValue)]
    public long UploadBytesPerSecond { get; set; }

    /// <summary>Pieces downloaded at once (from parents and the registry together).</summary>
    /// <value>Default 8.</value>
    [Range(1, 256)]
    public int DownloadSlots { get; set; } = 8;

    /// <summary>How long one scheduler request may take before the scheduler counts as down.</summary>
    /// <value>Default 5 s.</value>
    [Range(typeof(TimeSpan), "00:00:00.010", "00:05:00")]
    public TimeSpan SchedulerTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>How long a scheduler that did not answer is skipped before it is tried again.</summary>
    /// <value>Default 10 s.</value>
    [Range(typeof(TimeSpan), "00:00:00", "01:00:00")]
    public TimeSpan SchedulerRetryAfter { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>How long one piece may take from a parent before the parent counts as slow and the next is tried.</summary>
    /// <value>Default 30 s.</value>
    [Range(typeof(TimeSpan), "00:00:00.010", "00:10:00")]
    public TimeSpan PieceTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>The heartbeat interval until a scheduler states its own.</summary>
    /// <value>Default 2 s.</value>
    [Range(typeof(TimeSpan), "00:00:00.010", "00:10:00")]
    public TimeSpan HeartbeatInterval { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>
    /// The scheduler's operator token, sent as <c>Authorization: Bearer</c> with every scheduler request: a seed peer
    /// needs it (the scheduler refuses seed status without it, since seeds are told which blobs to preheat).
    /// </summary>
    /// <value>Default <see langword="null"/>. Required with <see cref="Seed"/> when schedulers are configured.</value>
    public string? OperatorToken { get; set; }

    /// <summary>Preheat downloads (seed peers) running at once; the rest wait their turn.</summary>
    /// <value>Default 2.</value>
    [Range(1, 64)]
    public int MaxConcurrentPreheats { get; set; } = 2;

    /// <summary>The largest blob a seed peer preheats; larger ones (and ones of unknown size) are skipped.</summary>
    /// <value>Default 16 GiB.</value>
    [Range(1L, long.MaxValue)]
    public long MaxPreheatBlobBytes { get; set; } = 16L * 1024 * 1024 * 1024;

    /// <summary>How the peer reads from registries (back-to-source, fallback, preheat) and which credentials it forwards.</summary>
    [Required]
    [ValidateObjectMembers(typeof(RegistryOptionsValidator))]
    public RegistryOptions Registry { get; set; } = new();

    /// <summary>
    /// Checks the options (with the registry's and the TLS options) with <see cref="P2PPeerOptionsValidator"/> and throws
    /// <see cref="ValidationException"/> naming every problem.
    /// </summary>
    public void Validate()
    {
        if (new P2PPeerOptionsValidator().Validate(Options.DefaultName, this) is { Failed: true } result)
        {
            throw new ValidationException(result.FailureMessage);
        }
    }

    /// <summary>The rules across fields: the peer id, the listener and TLS, the URLs, a seed's operator token.</summary>
    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (PeerId is not null && !P2PProtocol.IsValidPeerId(PeerId))
        {
            yield return new ValidationResult($"PeerId '{PeerId}' must be 1–128 characters of [A-Za-z0-9._:-].");
        }

        if (ListenerTlsOptions.CheckScheme(Listen, Tls) is { } problem)
        {
            yield return new ValidationResult($"Listen: {problem}.");
        }

        if (AdvertisedUrl is not null && !P2PProtocol.IsValidPeerUrl(AdvertisedUrl.AbsoluteUri))
        {
            yield return new ValidationResult($"AdvertisedUrl '{AdvertisedUrl}' must be an absolute http(s) URL.");
        }

        foreach (var scheduler in Schedulers)
        {
            if (scheduler is null || !scheduler.IsAbsoluteUri || (scheduler.Scheme != Uri.UriSchemeHttp && scheduler.Scheme != Uri.UriSchemeHttps))
            {
                yield return new ValidationResult($"Scheduler '{scheduler}' must be an absolute http(s) URL.");
            }
        }

        if (Seed && Schedulers.Count > 0 && OperatorToken is null)
        {
            yield return new ValidationResult("A seed peer needs the scheduler's operator token (OperatorToken, --operator-token-file).");
        }
    }
}

/// <summary>
/// Validates <see cref="P2PPeerOptions"/> (generated from its data annotations and rules, with the registry's and the TLS
/// options' validators).
/// </summary>
[OptionsValidator]
public sealed partial class P2PPeerOptionsValidator : IValidateOptions<P2PPeerOptions>
{
}

using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;

namespace Accelerator.Oci.Mirrors;

/// <summary>
/// Options of the mirror sets: which registries have mirrors (in code, from containerd's hosts directory, or both),
/// how reads are balanced, and how failures, stalls and replication lag are handled. Validated when a
/// <see cref="MirrorConfiguration"/> is loaded.
/// </summary>
public sealed class MirrorOptions : IValidatableObject
{
    /// <summary>The key of the namespace that applies to registries without their own (containerd's <c>_default</c>).</summary>
    public const string DefaultNamespace = "_default";

    /// <summary>
    /// Mirror sets per registry, keyed by <c>host[:port]</c> as in image references, or <see cref="DefaultNamespace"/>.
    /// An entry here replaces the hosts directory's entry for the same key.
    /// </summary>
    /// <value>Empty by default.</value>
    public IDictionary<string, RegistryMirrors> Registries { get; } = new Dictionary<string, RegistryMirrors>(StringComparer.OrdinalIgnoreCase);

    /// <summary>Mirrors of every registry that is read from, tried before the registry's own mirrors (the CLI's <c>--mirror</c>).</summary>
    /// <value>Empty by default.</value>
    public IList<MirrorEndpoint> Mirrors { get; } = new List<MirrorEndpoint>();

    /// <summary>
    /// A containerd hosts directory (<c>DIR/HOST/hosts.toml</c>, <c>DIR/_default/hosts.toml</c>), e.g.
    /// <c>/etc/containerd/certs.d</c>, read once when the configuration is loaded.
    /// </summary>
    /// <value>Default <see langword="null"/>: none.</value>
    public string? HostsDirectory { get; set; }

    /// <summary>How reads are spread over the mirrors that hold what is asked for.</summary>
    /// <value>Default <see cref="LoadBalancingPolicy.LeastOutstandingRequests"/>.</value>
    [EnumDataType(typeof(LoadBalancingPolicy))]
    public LoadBalancingPolicy LoadBalancing { get; set; } = LoadBalancingPolicy.LeastOutstandingRequests;

    /// <summary>
    /// How long a host may send nothing — no response headers, or no body bytes — before the read abandons it and goes
    /// on at the next host.
    /// </summary>
    /// <value>Default 10 s.</value>
    [Range(typeof(TimeSpan), "00:00:00.010", "01:00:00")]
    public TimeSpan StallTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Consecutive failures after which a host is left alone for a while (and then tried again).</summary>
    /// <value>Default 2.</value>
    [Range(1, 1000)]
    public int FailureThreshold { get; set; } = 2;

    /// <summary>How long a host is left alone after <see cref="FailureThreshold"/> failures; each further failure doubles it.</summary>
    /// <value>Default 1 s.</value>
    [Range(typeof(TimeSpan), "00:00:00", "01:00:00")]
    public TimeSpan MinimumBackoff { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>The longest a failing host is left alone.</summary>
    /// <value>Default 1 min.</value>
    [Range(typeof(TimeSpan), "00:00:00", "1.00:00:00")]
    public TimeSpan MaximumBackoff { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>How long a mirror's answer "I hold manifest D" is trusted before it is asked again (HEAD).</summary>
    /// <value>Default 1 min.</value>
    [Range(typeof(TimeSpan), "00:00:00", "1.00:00:00")]
    public TimeSpan PresenceCacheDuration { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>
    /// How long a mirror's answer "I do not hold manifest D" (or no answer) is kept; short, because replication may land
    /// at any moment.
    /// </summary>
    /// <value>Default 5 s.</value>
    [Range(typeof(TimeSpan), "00:00:00", "01:00:00")]
    public TimeSpan AbsenceCacheDuration { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Points per mirror on the consistent-hash ring; more points spread shares more evenly.</summary>
    /// <value>Default 160.</value>
    [Range(1, 10_000)]
    public int VirtualNodesPerHost { get; set; } = 160;

    /// <summary>Whole blobs up to this size are held in memory until verified; larger ones are spooled to a file.</summary>
    /// <value>Default 4 MiB.</value>
    [Range(0L, 1L << 30)]
    public long MemorySpoolLimit { get; set; } = 4 << 20;

    /// <summary>Where whole blobs larger than <see cref="MemorySpoolLimit"/> are spooled until verified.</summary>
    /// <value>Default <see langword="null"/>: the system's temporary directory.</value>
    public string? SpoolDirectory { get; set; }

    /// <summary>
    /// Whole blobs of at least twice this size are fetched in segments of this size from every healthy mirror that holds
    /// them at once: each mirror takes the next segment when it has finished one, so faster (less loaded) mirrors serve
    /// more. Only with <see cref="LoadBalancingPolicy.LeastOutstandingRequests"/> and
    /// <see cref="LoadBalancingPolicy.RoundRobin"/>: consistent hashing keeps each blob on one mirror, and the ordered
    /// policy uses the first mirror. 0 turns segmenting off.
    /// </summary>
    /// <value>Default 4 MiB.</value>
    [Range(0L, 1L << 30)]
    public long SegmentSize { get; set; } = 4 << 20;

    /// <summary>
    /// Ranged reads up to this length are read whole from one host before they are handed on, so a failure at any point
    /// moves the whole range to the next host; longer ranges stream, and fail over only before their first byte.
    /// </summary>
    /// <value>Default 8 MiB.</value>
    [Range(0L, 1L << 30)]
    public long RangeBufferLimit { get; set; } = 8 << 20;

    /// <summary>The rules across fields: backoff bounds, registry keys and mirror URLs.</summary>
    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        var failures = new List<string>();
        if (MinimumBackoff > MaximumBackoff)
        {
            failures.Add("MinimumBackoff must not exceed MaximumBackoff.");
        }

        foreach (var (key, mirrors) in Registries)
        {
            if (key != DefaultNamespace && !MirrorConfiguration.IsRegistryKey(key))
            {
                failures.Add($"Registries: '{key}' is neither a registry host[:port] nor '{DefaultNamespace}'.");
            }

            if (mirrors is null)
            {
                failures.Add($"Registries[{key}]: is null.");
                continue;
            }

            CheckEndpoints($"Registries[{key}].Mirrors", mirrors.Mirrors, failures);
            if (mirrors.Server is { } server)
            {
                CheckEndpoints($"Registries[{key}].Server", [server], failures);
            }
        }

        CheckEndpoints("Mirrors", Mirrors, failures);
        return failures.Select(failure => new ValidationResult(failure));
    }

    private static void CheckEndpoints(string where, IEnumerable<MirrorEndpoint?> endpoints, List<string> failures)
    {
        foreach (var endpoint in endpoints)
        {
            if (endpoint is null)
            {
                failures.Add($"{where}: contains null.");
            }
            else if (endpoint.Problem() is { } problem)
            {
                failures.Add($"{where}: {endpoint.Url}: {problem}.");
            }
        }
    }
}

/// <summary>
/// Validates <see cref="MirrorOptions"/> (generated from its data annotations and its rules across fields): at a host's
/// start, and when a <see cref="MirrorConfiguration"/> is loaded (<see cref="ThrowIfInvalid"/>).
/// </summary>
[OptionsValidator]
public sealed partial class MirrorOptionsValidator : IValidateOptions<MirrorOptions>
{
    /// <summary>Validates <paramref name="options"/> and throws <see cref="OptionsValidationException"/> on failure.</summary>
    public static void ThrowIfInvalid(MirrorOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (new MirrorOptionsValidator().Validate(null, options) is { Failed: true } result)
        {
            throw new OptionsValidationException(nameof(MirrorOptions), typeof(MirrorOptions), result.Failures);
        }
    }
}

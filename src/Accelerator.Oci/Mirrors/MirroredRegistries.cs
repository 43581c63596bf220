using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Accelerator.Oci.Model;
using Accelerator.Oci.Registry;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Accelerator.Oci.Mirrors;

/// <summary>
/// The mirror sets of every configured registry, over shared per-host state (health, counters, what each host is known
/// to hold). <see cref="GetStore"/> gives a <see cref="MirroredImageStore"/> for a registry with mirrors and the plain
/// registry store otherwise. Create one per process, after <see cref="MirrorConfiguration.ApplyTo"/> has been applied to
/// the options of the origin client.
/// </summary>
/// <remarks>
/// Mirrors are reached through a second client built from the same options but without retries and with
/// <see cref="MirrorOptions.StallTimeout"/> as the header timeout, so that a failing mirror hands the read to the next
/// host at once; the origin is reached through the origin client, with its retries, as the last resort.
/// Credentials stay per host: each host has its own key, and the client never sends a host's credentials elsewhere.
/// </remarks>
public sealed partial class MirroredRegistries : IDisposable
{
    /// <summary>The name of the meter with the per-host counters.</summary>
    public const string MeterName = "Accelerator.Mirrors";

    private readonly RegistryClient _mirrorClient;
    private readonly ConcurrentDictionary<string, MirrorHost> _hosts = new(StringComparer.OrdinalIgnoreCase);
    private readonly ConcurrentDictionary<string, MirroredImageStore?> _stores = new(StringComparer.OrdinalIgnoreCase);
    private readonly Meter _meter;

    /// <summary>Creates the mirror sets of <paramref name="configuration"/> over <paramref name="client"/> (the origin's client).</summary>
    public MirroredRegistries(MirrorConfiguration configuration, RegistryClient client, ILoggerFactory? loggerFactory = null, TimeProvider? time = null, IMeterFactory? meterFactory = null)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        ArgumentNullException.ThrowIfNull(client);
        Configuration = configuration;
        Client = client;
        Options = configuration.Options;
        Time = time ?? TimeProvider.System;
        Logger = (ILogger?)loggerFactory?.CreateLogger<MirroredRegistries>() ?? NullLogger.Instance;
        Presence = new PresenceCache(Time, Options.PresenceCacheDuration, Options.AbsenceCacheDuration);
        var mirrorOptions = client.Options.Clone();
        mirrorOptions.MaxRetries = 0;
        mirrorOptions.RequestTimeout = Options.StallTimeout < mirrorOptions.RequestTimeout ? Options.StallTimeout : mirrorOptions.RequestTimeout;
        _mirrorClient = new RegistryClient(mirrorOptions, handler: null, loggerFactory?.CreateLogger<RegistryClient>(), Time);
        _meter = meterFactory?.Create(MeterName) ?? new Meter(MeterName);
        Bytes = _meter.CreateCounter<long>("accelerator.mirror.bytes", "By", "Blob bytes received per host");
        Requests = _meter.CreateCounter<long>("accelerator.mirror.requests", "{request}", "Requests sent per host");
        Failures = _meter.CreateCounter<long>("accelerator.mirror.failures", "{failure}", "Failed requests per host and reason");
    }

    /// <summary>The configuration in force.</summary>
    public MirrorConfiguration Configuration { get; }

    /// <summary>The origin's client.</summary>
    public RegistryClient Client { get; }

    internal MirrorOptions Options { get; }

    internal TimeProvider Time { get; }

    internal ILogger Logger { get; }

    internal PresenceCache Presence { get; }

    internal Counter<long> Bytes { get; }

    internal Counter<long> Requests { get; }

    internal Counter<long> Failures { get; }

    /// <summary>The store to read images of <paramref name="registry"/> through: mirrored when it has mirrors, else the registry's own.</summary>
    public IImageStore GetStore(string registry) => GetMirroredStore(registry) ?? (IImageStore)Client.GetStore(registry);

    /// <summary>The mirrored store of <paramref name="registry"/>, or null when it has no mirrors.</summary>
    public MirroredImageStore? GetMirroredStore(string registry)
    {
        ArgumentException.ThrowIfNullOrEmpty(registry);
        return _stores.GetOrAdd(registry, static (r, self) => self.CreateStore(r), this);
    }

    /// <summary>Counters and state of every host the mirror sets have used or named.</summary>
    public IReadOnlyList<MirrorHostStatistics> GetStatistics() => _hosts.Values.Select(h => h.Snapshot()).OrderBy(s => s.Host, StringComparer.Ordinal).ToList();

    /// <inheritdoc />
    public void Dispose()
    {
        _mirrorClient.Dispose();
        _meter.Dispose();
    }

    private MirroredImageStore? CreateStore(string registry)
    {
        if (Configuration.For(registry) is not { } set)
        {
            return null;
        }

        var mirrors = new List<MirrorRoute>();
        foreach (var endpoint in set.Mirrors)
        {
            string key = MirrorConfiguration.HostKey(endpoint.Url);
            // A host named twice (common and own mirrors) is asked once, with the capabilities it was first given.
            if (mirrors.Any(m => string.Equals(m.Key, key, StringComparison.OrdinalIgnoreCase)))
            {
                continue;
            }

            mirrors.Add(new MirrorRoute(Host(key, _mirrorClient), endpoint.Capabilities, isOrigin: false));
        }

        var server = set.Server is { } s
            ? new MirrorRoute(Host(MirrorConfiguration.HostKey(s.Url), Client), s.Capabilities, isOrigin: true)
            : new MirrorRoute(Host(registry, Client), MirrorCapabilities.All, isOrigin: true);
        mirrors.RemoveAll(m => string.Equals(m.Key, server.Key, StringComparison.OrdinalIgnoreCase));
        LogMirrorSet(registry, string.Join(", ", mirrors.Select(m => $"{m.Key} ({m.Capabilities})")), server.Key, Options.LoadBalancing);
        return new MirroredImageStore(new MirrorSet(this, registry, mirrors, server));
    }

    private MirrorHost Host(string key, RegistryClient client)
        => _hosts.GetOrAdd(key, k => new MirrorHost(k, client, new HostHealth(Time, Options.FailureThreshold, Options.MinimumBackoff, Options.MaximumBackoff)));
}

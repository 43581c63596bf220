using System.Security.Cryptography;
using Accelerator.Oci.Copying;
using Accelerator.Hosting;
using Accelerator.Hosting.Health;
using Accelerator.Oci.Registry;
using Accelerator.P2P.Protocol;
using Accelerator.Hosting.Metrics;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Accelerator.P2P.Peers;

/// <summary>
/// A P2P peer daemon, startable in-process (<c>accel p2p peer</c> runs one): a verified piece store on disk, a piece
/// API on Kestrel that serves pieces only to holders of the task's token, downloads of pieces from several parents at
/// once and from the registry when the scheduler says so, heartbeats, and preheating for seed peers. Reads go through
/// <see cref="PeerBlobSource"/> (<see cref="CreateBlobSource(string, RegistryCredential?)"/>).
/// </summary>
/// <remarks>
/// The peer starts, wires and stops its parts, each with one responsibility: <see cref="SchedulerRegistration"/> (the
/// scheduler ring, task registration, sessions), <see cref="PieceDownloader"/> (pieces from parents and back to source,
/// the streamed blob), <see cref="PieceServer"/> (the piece API), <see cref="PieceReporter"/> (what the schedulers are
/// told), <see cref="Preheater"/> and <see cref="PeerHeartbeats"/>; <see cref="PeerCounters"/> are shared by all.
/// </remarks>
public sealed partial class P2PPeer : IAsyncDisposable
{
    private readonly P2PPeerOptions _options;
    private readonly PieceStore _store;
    private readonly HttpClient _http;
    private readonly RegistryClient _registry;
    private readonly bool _ownsRegistry;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly PeerCounters _counters = new();
    private readonly SchedulerRegistration _registration;
    private readonly PieceReporter _reporter;
    private readonly PieceDownloader _downloader;
    private readonly PieceServer _server;
    private readonly Preheater _preheater;
    private readonly PeerHeartbeats _heartbeat;
    private readonly Lazy<SocketsHttpHandler> _credentialHandler = new(() => new SocketsHttpHandler
    {
        AllowAutoRedirect = false,
        AutomaticDecompression = System.Net.DecompressionMethods.None,
        PooledConnectionLifetime = TimeSpan.FromMinutes(2),
    });
    private readonly CancellationTokenSource _stopping = new();
    private readonly System.Diagnostics.Metrics.Meter _meter;
    private KestrelListener? _listener;
    private Task _heartbeats = Task.CompletedTask;
    private int _disposed;

    private P2PPeer(P2PPeerOptions options, PieceStore store, RegistryClient registry, bool ownsRegistry, TimeProvider time, ILogger logger)
    {
        _options = options;
        _store = store;
        _registry = registry;
        _ownsRegistry = ownsRegistry;
        _time = time;
        _logger = logger;
        PeerId = options.PeerId ?? $"{SanitizedMachineName()}-{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(4))}";
        var handler = new SocketsHttpHandler
        {
            PooledConnectionLifetime = TimeSpan.FromMinutes(2),
            ConnectTimeout = options.SchedulerTimeout,
            MaxConnectionsPerServer = 64,
            AutomaticDecompression = System.Net.DecompressionMethods.None,
            // A parent or scheduler that redirects is not followed: the request (and its task token) stays with the
            // peer the scheduler named.
            AllowAutoRedirect = false,
        };
        options.ClientTls?.ApplyTo(handler);
        _http = new HttpClient(handler)
        {
            Timeout = Timeout.InfiniteTimeSpan,
        };
        // One part per responsibility: the scheduler ring and task registration, reports to the schedulers, downloads
        // (from parents and back to source), the piece API, preheating, heartbeats.
        _registration = new SchedulerRegistration(options, _http, time, logger, _counters, () => Self);
        _reporter = new PieceReporter(_registration, store, _counters, logger, () => PeerId, _stopping.Token);
        _downloader = new PieceDownloader(options, store, _registration, _reporter, _http, _counters, logger, time, () => PeerId, _stopping.Token);
        _server = new PieceServer(options, store, _registration, _counters, FormatMetrics, time);
        _preheater = new Preheater(options, registry => CreateBlobSource(registry), _counters, logger, _stopping.Token);
        _heartbeat = new PeerHeartbeats(options, _registration, _reporter, _preheater, _server, () => Self, time, logger);
        _meter = P2PMeter.Create(new("peer", PeerId),
        [
            ("accelerator.p2p.peer.bytes_from_peers", "By", "Bytes downloaded from other peers.", () => Interlocked.Read(ref _counters.BytesFromPeers)),
            ("accelerator.p2p.peer.bytes_from_origin", "By", "Bytes read from the registry.", () => Interlocked.Read(ref _counters.BytesFromOrigin)),
            ("accelerator.p2p.peer.bytes_uploaded", "By", "Bytes uploaded to other peers.", () => Interlocked.Read(ref _counters.BytesUploaded)),
            ("accelerator.p2p.peer.corrupt_pieces", "{piece}", "Pieces from parents that failed their digest.", () => Interlocked.Read(ref _counters.CorruptPieces)),
            ("accelerator.p2p.peer.origin_fallbacks", "{read}", "Reads sent straight to the registry because no scheduler answered.", () => Interlocked.Read(ref _counters.OriginFallbacks)),
            ("accelerator.p2p.peer.scheduler_failovers", "{task}", "Tasks moved to the next scheduler on the ring.", () => Interlocked.Read(ref _counters.SchedulerFailovers)),
        ]);
    }

    /// <summary>The peer's identity.</summary>
    public string PeerId { get; }

    /// <summary>The base URL of the piece API as other peers reach it.</summary>
    public Uri Url { get; private set; } = null!;

    /// <summary>The options in force.</summary>
    public P2PPeerOptions Options => _options;

    /// <summary>When a scheduler last answered a heartbeat; <see langword="null"/> before the first answer (or without schedulers).</summary>
    public DateTimeOffset? LastSchedulerContact => _registration.LastContact;

    /// <summary>
    /// Validates <paramref name="options"/>, opens the piece store (keeping what a previous run stored), starts the
    /// piece API and the heartbeats, and returns once the peer accepts connections.
    /// </summary>
    /// <param name="options">The options.</param>
    /// <param name="registry">The client for registry reads; default: one built from <see cref="P2PPeerOptions.Registry"/> (and disposed with the peer).</param>
    /// <param name="loggerFactory">Logging.</param>
    /// <param name="time">Time, for heartbeats, timeouts and shaping.</param>
    /// <param name="cancellationToken">Cancels the start.</param>
    public static Task<P2PPeer> StartAsync(P2PPeerOptions options, RegistryClient? registry = null, ILoggerFactory? loggerFactory = null, TimeProvider? time = null, CancellationToken cancellationToken = default)
        => StartAsync(options, registry, loggerFactory, time, health: null, cancellationToken);

    /// <summary>Starts the peer with <paramref name="health"/> answering <c>/healthz</c> and <c>/readyz</c> on its listener.</summary>
    internal static async Task<P2PPeer> StartAsync(P2PPeerOptions options, RegistryClient? registry, ILoggerFactory? loggerFactory, TimeProvider? time, HealthEndpoints? health, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        time ??= TimeProvider.System;
        loggerFactory ??= NullLoggerFactory.Instance;
        var store = PieceStore.Open(options.DataDirectory!, options.CapacityBytes, options.MemoryCacheBytes);
        bool owns = registry is null;
        registry ??= new RegistryClient(options.Registry, logger: loggerFactory.CreateLogger<RegistryClient>(), time: time);
        var peer = new P2PPeer(options, store, registry, owns, time, loggerFactory.CreateLogger<P2PPeer>());
        try
        {
            peer._listener = await KestrelListener.StartAsync(options.Listen, peer._server.HandleAsync, 64 * 1024, cancellationToken, tls: options.Tls, health: health).ConfigureAwait(false);
            peer.Url = options.AdvertisedUrl ?? peer._listener.Url;
            if (peer._registration.Ring is not null)
            {
                await peer._heartbeat.SendAsync(cancellationToken).ConfigureAwait(false);
                peer._heartbeats = Task.Run(() => peer._heartbeat.LoopAsync(peer._stopping.Token), CancellationToken.None);
            }

            PeerLog.Started(peer._logger, peer.PeerId, peer.Url, options.Seed);
            return peer;
        }
        catch
        {
            await peer.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>
    /// A blob source for <paramref name="registry"/> that reads through P2P. Without <paramref name="credential"/>,
    /// back-to-source and fallback reads go to the registry with this peer's registry client, and the credential
    /// forwarded to the scheduler for access checks is the user and password of <see cref="P2PPeerOptions.Registry"/>'s
    /// host entry. With it (a registry-mirror proxy passes each client's own), the scheduler checks that credential and
    /// the registry reads carry it too (a <c>Bearer</c> or other ready <c>Authorization</c> value as is, to that
    /// registry's own origin only).
    /// </summary>
    public PeerBlobSource CreateBlobSource(string registry, RegistryCredential? credential = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(registry);
        if (credential is not null && (credential.Username is not null || credential.Authorization is not null))
        {
            return new PeerBlobSource(this, registry, CreateCredentialClient(registry, credential).GetStore(registry).BlobSource, credential);
        }

        credential = _options.Registry.Hosts.TryGetValue(registry, out var host) && host.Username is not null
            ? new RegistryCredential { Username = host.Username, Password = host.Password }
            : null;
        return new PeerBlobSource(this, registry, _registry.GetStore(registry).BlobSource, credential);
    }

    /// <summary>
    /// A registry client that knows only <paramref name="credential"/> (never this peer's own, nor a docker config), on a
    /// shared connection pool: cheap enough to make per client request.
    /// </summary>
    private RegistryClient CreateCredentialClient(string registry, RegistryCredential credential)
    {
        var options = new RegistryOptions
        {
            PlainHttp = _options.Registry.PlainHttp,
            DockerConfigPath = "/nonexistent/accel-p2p/docker-config.json",
            MaxRetries = _options.Registry.MaxRetries,
            RetryBaseDelay = _options.Registry.RetryBaseDelay,
            RequestTimeout = _options.Registry.RequestTimeout,
            UserAgent = _options.Registry.UserAgent,
        };
        _options.Registry.Hosts.TryGetValue(registry, out var configured);
        var host = new RegistryHostOptions { PlainHttp = configured?.PlainHttp ?? false, ApiPath = configured?.ApiPath };
        if (credential.Authorization is { } authorization)
        {
            // Configured headers go to this host's own origin only, never after a redirect elsewhere nor to a token server.
            host.Headers["Authorization"] = [authorization];
        }
        else
        {
            host.Username = credential.Username;
            host.Password = credential.Password ?? string.Empty;
        }

        options.Hosts[registry] = host;
        return new RegistryClient(options, _credentialHandler.Value, time: _time);
    }

    /// <summary>
    /// A blob source for <paramref name="registry"/> that reads through P2P and sends back-to-source and fallback reads
    /// to <paramref name="origin"/> (e.g. a registry source carrying a client's own credentials, in a proxy).
    /// </summary>
    public PeerBlobSource CreateBlobSource(string registry, IBlobSource origin, RegistryCredential? credential)
    {
        ArgumentException.ThrowIfNullOrEmpty(registry);
        ArgumentNullException.ThrowIfNull(origin);
        return new PeerBlobSource(this, registry, origin, credential);
    }

    /// <summary>Counters of the peer.</summary>
    public P2PPeerStatistics GetStatistics() => new()
    {
        PiecesFromPeers = Interlocked.Read(ref _counters.PiecesFromPeers),
        PiecesFromOrigin = Interlocked.Read(ref _counters.PiecesFromOrigin),
        BytesFromPeers = Interlocked.Read(ref _counters.BytesFromPeers),
        BytesFromOrigin = Interlocked.Read(ref _counters.BytesFromOrigin),
        BytesUploaded = Interlocked.Read(ref _counters.BytesUploaded),
        PiecesUploaded = Interlocked.Read(ref _counters.PiecesUploaded),
        UploadsForbidden = Interlocked.Read(ref _counters.UploadsForbidden),
        UploadsBusy = Interlocked.Read(ref _counters.UploadsBusy),
        CorruptPieces = Interlocked.Read(ref _counters.CorruptPieces),
        ParentFailures = Interlocked.Read(ref _counters.ParentFailures),
        OriginFallbacks = Interlocked.Read(ref _counters.OriginFallbacks),
        SchedulerFailovers = Interlocked.Read(ref _counters.SchedulerFailovers),
        BlobsCompleted = Interlocked.Read(ref _counters.BlobsCompleted),
        BlobsCorrupt = Interlocked.Read(ref _counters.BlobsCorrupt),
        BlobsPreheated = Interlocked.Read(ref _counters.BlobsPreheated),
        PreheatsSkipped = Interlocked.Read(ref _counters.PreheatsSkipped),
        StoredBytes = _store.Bytes,
        PiecesEvicted = _store.Evictions,
        EvictionsAnnounced = Interlocked.Read(ref _counters.EvictionsAnnounced),
        PieceMemoryHits = _store.MemoryHits,
        MemoryCacheBytes = _store.MemoryBytes,
    };

    /// <summary>The Prometheus text of the peer's metrics.</summary>
    public string FormatMetrics()
    {
        var s = GetStatistics();
        return new PrometheusText()
            .Counter("accel_p2p_peer_pieces_from_peers_total", "Pieces downloaded from other peers.", s.PiecesFromPeers)
            .Counter("accel_p2p_peer_pieces_from_origin_total", "Pieces read back-to-source from the registry.", s.PiecesFromOrigin)
            .Counter("accel_p2p_peer_bytes_from_peers_total", "Bytes downloaded from other peers.", s.BytesFromPeers)
            .Counter("accel_p2p_peer_bytes_from_origin_total", "Bytes read from the registry.", s.BytesFromOrigin)
            .Counter("accel_p2p_peer_bytes_uploaded_total", "Bytes uploaded to other peers.", s.BytesUploaded)
            .Counter("accel_p2p_peer_pieces_uploaded_total", "Pieces uploaded to other peers.", s.PiecesUploaded)
            .Counter("accel_p2p_peer_uploads_forbidden_total", "Piece requests refused for a missing or wrong token.", s.UploadsForbidden)
            .Counter("accel_p2p_peer_uploads_busy_total", "Piece requests refused with every upload slot busy.", s.UploadsBusy)
            .Counter("accel_p2p_peer_corrupt_pieces_total", "Pieces from parents that failed their digest.", s.CorruptPieces)
            .Counter("accel_p2p_peer_parent_failures_total", "Failed piece fetches from parents.", s.ParentFailures)
            .Counter("accel_p2p_peer_origin_fallbacks_total", "Reads sent straight to the registry because no scheduler answered.", s.OriginFallbacks)
            .Counter("accel_p2p_peer_scheduler_failovers_total", "Tasks moved to the next scheduler on the ring.", s.SchedulerFailovers)
            .Counter("accel_p2p_peer_blobs_completed_total", "Blobs assembled and verified.", s.BlobsCompleted)
            .Counter("accel_p2p_peer_blobs_corrupt_total", "Assembled blobs that failed their digest.", s.BlobsCorrupt)
            .Counter("accel_p2p_peer_blobs_preheated_total", "Blobs fetched for preheat.", s.BlobsPreheated)
            .Counter("accel_p2p_peer_preheats_skipped_total", "Preheats skipped as over the bounds (blob size, backlog).", s.PreheatsSkipped)
            .Gauge("accel_p2p_peer_stored_bytes", "Bytes in the piece store.", s.StoredBytes)
            .Counter("accel_p2p_peer_pieces_evicted_total", "Pieces evicted from the store.", s.PiecesEvicted)
            .Counter("accel_p2p_peer_piece_memory_hits_total", "Piece reads served from the in-memory cache of verified pieces.", s.PieceMemoryHits)
            .Gauge("accel_p2p_peer_memory_cache_bytes", "Bytes in the in-memory cache of verified pieces.", s.MemoryCacheBytes)
            .ToString();
    }

    /// <summary>Tells the schedulers the peer is leaving, stops the piece API and heartbeats.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await _stopping.CancelAsync().ConfigureAwait(false);
        try
        {
            await _heartbeats.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }

        if (_registration.Ring is { } ring && Url is not null)
        {
            using var leaving = new CancellationTokenSource(TimeSpan.FromSeconds(2));
            await Task.WhenAll(ring.Schedulers.Select(s => _registration.LeaveAsync(s, leaving.Token))).ConfigureAwait(false);
        }

        if (_listener is not null)
        {
            await _listener.DisposeAsync().ConfigureAwait(false);
        }

        await _preheater.DrainAsync().ConfigureAwait(false);
        _http.Dispose();
        if (_ownsRegistry)
        {
            _registry.Dispose();
        }

        if (_credentialHandler.IsValueCreated)
        {
            _credentialHandler.Value.Dispose();
        }

        _preheater.Dispose();
        _server.Dispose();
        _downloader.Dispose();
        _stopping.Dispose();
        _meter.Dispose();
    }

    /// <summary>Stops abruptly, as a crash would: no leave message, connections dropped. For tests of failure handling.</summary>
    internal async ValueTask KillAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await _stopping.CancelAsync().ConfigureAwait(false);
        if (_listener is not null)
        {
            await _listener.DisposeAsync().ConfigureAwait(false);
        }

        _http.Dispose();
        _meter.Dispose();
        if (_ownsRegistry)
        {
            _registry.Dispose();
        }
    }

    /// <summary>Opens the whole blob through P2P (see <see cref="PieceDownloader.OpenBlobAsync"/>).</summary>
    internal Task<Stream> OpenBlobAsync(PeerBlobSource source, BlobAddress blob, CancellationToken cancellationToken)
        => _downloader.OpenBlobAsync(source, blob, cancellationToken);

    /// <summary>Opens a range through P2P (see <see cref="PieceDownloader.OpenRangeAsync"/>).</summary>
    internal Task<Stream> OpenRangeAsync(PeerBlobSource source, BlobAddress blob, long offset, long length, CancellationToken cancellationToken)
        => _downloader.OpenRangeAsync(source, blob, offset, length, cancellationToken);

    private PeerInfo Self => new()
    {
        PeerId = PeerId,
        Url = Url.AbsoluteUri,
        Locality = _options.Locality,
        Seed = _options.Seed,
        UploadSlots = _options.UploadSlots,
    };

    private static string SanitizedMachineName()
    {
        string name = new([.. Environment.MachineName.Where(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-')]);
        return name.Length is 0 or > 100 ? "peer" : name;
    }
}

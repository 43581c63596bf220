using System.Collections.Concurrent;
using System.Net;
using Accelerator.Hosting;
using Accelerator.Hosting.Health;
using Accelerator.Oci.Registry;
using Accelerator.P2P.Protocol;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Accelerator.P2P.Proxy;

/// <summary>
/// A registry mirror on a peer: the <c>/v2/</c> API that containerd (a <c>hosts.toml</c> mirror) and docker
/// (<c>registry-mirrors</c>) use unchanged. Manifests are passed through to the upstream registry with the client's
/// <c>Authorization</c> and <c>Accept</c> headers (status, headers and body returned as the registry gave them, a body
/// fetched by digest checked against it; an upstream error is answered with the proxy's own error body, never the
/// upstream's text; redirects are not followed except a blob's redirect to storage); blobs are read from a blob source — the peer's P2P source — whole or as one
/// byte range (206), so lazy mounts read their chunks through it. The upstream registry is containerd's <c>ns</c>
/// query parameter, else <see cref="RegistryMirrorProxyOptions.Upstream"/>, and must be one the proxy is allowed to
/// serve (<see cref="RegistryMirrorProxyOptions.AllowedUpstreams"/>; 403 otherwise). Errors use the registry's JSON error
/// format. Also serves <c>/healthz</c> and Prometheus text on <c>/metrics</c>.
/// </summary>
/// <remarks>
/// Whole-blob reads are verified by the blob source (a peer source checks each piece's sha256 before handing it out,
/// and the blob digest at the end): if the final check fails the response is cut short, so a client never receives a
/// complete wrong blob.
/// </remarks>
public sealed partial class RegistryMirrorProxy : IAsyncDisposable
{
    private const int MaxCachedRegistries = 256;

    private readonly RegistryMirrorProxyOptions _options;
    private readonly Func<string, RegistryCredential?, IBlobSource> _blobSources;
    private readonly ConcurrentDictionary<string, IBlobSource> _sourcesByRegistry = new(StringComparer.OrdinalIgnoreCase);
    private readonly ConcurrentDictionary<AuthorizationKey, AuthorizationEntry> _authorizations = new();
    private readonly HttpClient _upstream;
    private readonly SemaphoreSlim _blobSlots;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private KestrelListener? _listener;
    private long _manifestRequests;
    private long _blobRequests;
    private long _rangeRequests;
    private long _bytesServed;
    private long _errors;
    private int _disposed;

    private RegistryMirrorProxy(RegistryMirrorProxyOptions options, Func<string, RegistryCredential?, IBlobSource> blobSources, HttpMessageHandler? upstreamHandler, TimeProvider time, ILogger logger)
    {
        _options = options;
        _blobSources = blobSources;
        _time = time;
        _logger = logger;
        _blobSlots = new SemaphoreSlim(options.MaxConcurrentBlobRequests);
        _upstream = upstreamHandler is null
            // Redirects are never followed blindly: a manifest or ping redirect is refused, and a blob HEAD follows the
            // registry's redirect to storage itself (FollowBlobRedirectAsync), without the client's credentials.
            ? new HttpClient(CreateUpstreamHandler())
            : new HttpClient(upstreamHandler, disposeHandler: false);
        _upstream.Timeout = options.UpstreamTimeout;
    }

    private static SocketsHttpHandler CreateUpstreamHandler()
    {
        var handler = new SocketsHttpHandler { AllowAutoRedirect = false, AutomaticDecompression = DecompressionMethods.None };
        RedirectTargetGuard.Install(handler, allowLocal: false);
        return handler;
    }

    /// <summary>The base URL the proxy listens on (with the actual port when port 0 was asked for).</summary>
    public Uri Url { get; private set; } = null!;

    /// <summary>
    /// Starts the proxy and returns once it accepts connections. <paramref name="blobSources"/> gives the blob source for
    /// an upstream registry (<c>host[:port]</c>); it is asked once per registry.
    /// </summary>
    public static Task<RegistryMirrorProxy> StartAsync(
        RegistryMirrorProxyOptions options,
        Func<string, IBlobSource> blobSources,
        ILoggerFactory? loggerFactory = null,
        TimeProvider? time = null,
        HttpMessageHandler? upstreamHandler = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(blobSources);
        return StartAsync(options, (registry, _) => blobSources(registry), loggerFactory, time, upstreamHandler, cancellationToken);
    }

    /// <summary>
    /// Starts the proxy and returns once it accepts connections. <paramref name="blobSources"/> gives the blob source for
    /// an upstream registry (<c>host[:port]</c>) and the credential the client sent (its <c>Authorization</c>: user and
    /// password for <c>Basic</c>, the header value as is otherwise, <see langword="null"/> when it sent none); a source
    /// for a client credential must check access and read with that credential (a peer source forwards it to the
    /// scheduler's access check and to back-to-source reads). Sources without a credential are asked once per registry.
    /// </summary>
    public static Task<RegistryMirrorProxy> StartAsync(
        RegistryMirrorProxyOptions options,
        Func<string, RegistryCredential?, IBlobSource> blobSources,
        ILoggerFactory? loggerFactory = null,
        TimeProvider? time = null,
        HttpMessageHandler? upstreamHandler = null,
        CancellationToken cancellationToken = default)
        => StartAsync(options, blobSources, loggerFactory, time, upstreamHandler, health: null, cancellationToken);

    /// <summary>Starts the proxy with <paramref name="health"/> answering <c>/healthz</c> and <c>/readyz</c> on its listener.</summary>
    internal static async Task<RegistryMirrorProxy> StartAsync(
        RegistryMirrorProxyOptions options,
        Func<string, RegistryCredential?, IBlobSource> blobSources,
        ILoggerFactory? loggerFactory,
        TimeProvider? time,
        HttpMessageHandler? upstreamHandler,
        HealthEndpoints? health,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(blobSources);
        options.Validate();
        var logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger<RegistryMirrorProxy>();
        var proxy = new RegistryMirrorProxy(options, blobSources, upstreamHandler, time ?? TimeProvider.System, logger);
        try
        {
            await proxy.StartListenerAsync(health, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            await proxy.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        proxy.LogStarted(proxy.Url.ToString(), options.Upstream ?? "(ns only)");
        return proxy;
    }

    /// <summary>The counters so far.</summary>
    public RegistryMirrorProxyStatistics GetStatistics() => new(
        Interlocked.Read(ref _manifestRequests),
        Interlocked.Read(ref _blobRequests),
        Interlocked.Read(ref _rangeRequests),
        Interlocked.Read(ref _bytesServed),
        Interlocked.Read(ref _errors));

    /// <summary>Stops listening (requests in flight get a few seconds to end).</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        if (_listener is not null)
        {
            await _listener.DisposeAsync().ConfigureAwait(false);
        }

        _upstream.Dispose();
        _blobSlots.Dispose();
    }

    // Registries come from clients (ns): keep anonymous sources for a bounded number of them. A source for a client's
    // credential is made per request (it carries that credential, and nobody else may read with it).
    private IBlobSource SourceFor(string registry, RegistryCredential? credential = null)
        => credential is not null ? _blobSources(registry, credential)
            : _sourcesByRegistry.TryGetValue(registry, out var source) ? source
            : _sourcesByRegistry.Count < MaxCachedRegistries ? _sourcesByRegistry.GetOrAdd(registry, r => _blobSources(r, null))
            : _blobSources(registry, null);

    private async Task StartListenerAsync(HealthEndpoints? health, CancellationToken cancellationToken)
    {
        // Registry API requests this proxy serves carry no body.
        _listener = await KestrelListener.StartAsync(_options.Listen!, HandleAsync, 0, cancellationToken, maxRequestHeadersBytes: 64 * 1024, tls: _options.Tls, health: health).ConfigureAwait(false);
        Url = _listener.Url;
    }

    private readonly record struct AuthorizationKey(string Registry, string Repository, Digest Digest, string Authorization);

    private sealed record AuthorizationEntry(long Size, DateTimeOffset Expires);
}

/// <summary>Counters of a <see cref="RegistryMirrorProxy"/>.</summary>
/// <param name="ManifestRequests">Manifest requests passed through.</param>
/// <param name="BlobRequests">Blob requests (GET and HEAD).</param>
/// <param name="RangeRequests">Blob GETs answered with one byte range (206).</param>
/// <param name="BytesServed">Blob bytes sent to clients.</param>
/// <param name="Errors">Requests answered with an error or cut short.</param>
public sealed record RegistryMirrorProxyStatistics(long ManifestRequests, long BlobRequests, long RangeRequests, long BytesServed, long Errors);

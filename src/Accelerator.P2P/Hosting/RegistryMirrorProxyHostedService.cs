using Accelerator.Hosting.Health;
using Accelerator.P2P.Proxy;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Accelerator.P2P.Hosting;

/// <summary>
/// The registry-mirror proxy as a hosted service (<c>services.AddRegistryMirrorProxy(...)</c> after
/// <c>AddP2PPeer(...)</c>): serves <c>/v2/</c> with blobs read through the host's P2P peer, and the host's health checks
/// for it on <c>/healthz</c> and <c>/readyz</c>.
/// </summary>
public sealed class RegistryMirrorProxyHostedService : HostedDaemon<RegistryMirrorProxy>
{
    /// <summary>The tag of the proxy's health checks (and the name of its check).</summary>
    public const string HealthName = "p2p-proxy";

    private readonly RegistryMirrorProxyOptions _options;
    private readonly P2PPeerHostedService _peer;
    private readonly ILoggerFactory? _loggerFactory;
    private readonly TimeProvider? _time;

    /// <summary>Creates the service; the host starts it after the peer.</summary>
    public RegistryMirrorProxyHostedService(IOptions<RegistryMirrorProxyOptions> options, P2PPeerHostedService peer, HealthCheckService health, ILoggerFactory? loggerFactory = null, TimeProvider? time = null)
        : base(health, HealthName)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(peer);
        _options = options.Value;
        _peer = peer;
        _loggerFactory = loggerFactory;
        _time = time;
    }

    /// <summary>The running proxy; <see langword="null"/> before the host started it and after it stopped.</summary>
    public RegistryMirrorProxy? Proxy => Daemon;

    /// <inheritdoc />
    /// <exception cref="InvalidOperationException">The peer has not started: <c>AddP2PPeer</c> must come first.</exception>
    protected override async Task<RegistryMirrorProxy> StartDaemonAsync(HealthEndpoints health, CancellationToken cancellationToken)
    {
        var peer = _peer.Peer ?? throw new InvalidOperationException("The registry-mirror proxy reads through the P2P peer: register AddP2PPeer before AddRegistryMirrorProxy.");
        return await RegistryMirrorProxy.StartAsync(
            _options, (registry, credential) => peer.CreateBlobSource(registry, credential), _loggerFactory, _time, upstreamHandler: null, health, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Live and ready while the proxy listens and its peer runs.</summary>
    internal sealed class HealthCheck(RegistryMirrorProxyHostedService service) : IHealthCheck
    {
        public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
            => Task.FromResult(service.Proxy is not { } proxy ? HealthCheckResult.Unhealthy("not started")
                : service._peer.Peer is null ? HealthCheckResult.Unhealthy("its P2P peer stopped")
                : HealthCheckResult.Healthy($"listening on {proxy.Url}"));
    }
}

using Accelerator.Hosting.Health;
using Accelerator.P2P.Peers;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Accelerator.P2P.Hosting;

/// <summary>
/// A P2P peer as a hosted service (<c>services.AddP2PPeer(...)</c>): starts a <see cref="P2PPeer"/> with the host, serving
/// the host's health checks for it on <c>/healthz</c> and <c>/readyz</c> of its piece API, and stops it with the host.
/// </summary>
public sealed class P2PPeerHostedService : HostedDaemon<P2PPeer>
{
    /// <summary>The tag of the peer's health checks (and the prefix of their names).</summary>
    public const string HealthName = "p2p-peer";

    private readonly P2PPeerOptions _options;
    private readonly ILoggerFactory? _loggerFactory;
    private readonly TimeProvider _time;

    /// <summary>Creates the service; the host starts it.</summary>
    public P2PPeerHostedService(IOptions<P2PPeerOptions> options, HealthCheckService health, ILoggerFactory? loggerFactory = null, TimeProvider? time = null)
        : base(health, HealthName)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options.Value;
        _loggerFactory = loggerFactory;
        _time = time ?? TimeProvider.System;
    }

    /// <summary>The running peer; <see langword="null"/> before the host started it and after it stopped.</summary>
    public P2PPeer? Peer => Daemon;

    /// <inheritdoc />
    protected override async Task<P2PPeer> StartDaemonAsync(HealthEndpoints health, CancellationToken cancellationToken)
        => await P2PPeer.StartAsync(_options, registry: null, _loggerFactory, _time, health, cancellationToken).ConfigureAwait(false);

    /// <summary>Live while the peer's listener is bound.</summary>
    internal sealed class LivenessCheck(P2PPeerHostedService service) : IHealthCheck
    {
        public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
            => Task.FromResult(service.Peer is { } peer
                ? HealthCheckResult.Healthy($"listening on {peer.Url}")
                : HealthCheckResult.Unhealthy("not started"));
    }

    /// <summary>
    /// Ready once a scheduler answered a heartbeat (without schedulers, at once: every read goes to the registry); degraded
    /// when none answered for three heartbeat intervals, as reads then go to the registry instead of other peers.
    /// </summary>
    internal sealed class ReadinessCheck(P2PPeerHostedService service) : IHealthCheck
    {
        public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
        {
            if (service.Peer is not { } peer)
            {
                return Task.FromResult(HealthCheckResult.Unhealthy("not started"));
            }

            if (peer.Options.Schedulers.Count == 0)
            {
                return Task.FromResult(HealthCheckResult.Healthy("no scheduler: reads go to the registry"));
            }

            if (peer.LastSchedulerContact is not { } contact)
            {
                return Task.FromResult(HealthCheckResult.Unhealthy("no scheduler reached yet"));
            }

            var silence = service._time.GetUtcNow() - contact;
            return Task.FromResult(silence <= 3 * peer.Options.HeartbeatInterval
                ? HealthCheckResult.Healthy("scheduler reached")
                : HealthCheckResult.Degraded($"no scheduler answered for {silence.TotalSeconds:F0} s: reads go to the registry"));
        }
    }
}

using Accelerator.Hosting.Health;
using Accelerator.P2P.Scheduling;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Accelerator.P2P.Hosting;

/// <summary>
/// The P2P scheduler as a hosted service (<c>services.AddP2PScheduler(...)</c>): starts a <see cref="P2PSchedulerServer"/>
/// with the host, serving the host's health checks for it on <c>/healthz</c> and <c>/readyz</c>, and stops it with the host.
/// </summary>
public sealed class P2PSchedulerHostedService : HostedDaemon<P2PSchedulerServer>
{
    /// <summary>The tag of the scheduler's health checks (and the name of its check).</summary>
    public const string HealthName = "p2p-scheduler";

    private readonly P2PSchedulerServerOptions _options;
    private readonly ILoggerFactory? _loggerFactory;
    private readonly TimeProvider? _time;

    /// <summary>Creates the service; the host starts it.</summary>
    public P2PSchedulerHostedService(IOptions<P2PSchedulerServerOptions> options, HealthCheckService health, ILoggerFactory? loggerFactory = null, TimeProvider? time = null)
        : base(health, HealthName)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options.Value;
        _loggerFactory = loggerFactory;
        _time = time;
    }

    /// <summary>The running scheduler; <see langword="null"/> before the host started it and after it stopped.</summary>
    public P2PSchedulerServer? Server => Daemon;

    /// <inheritdoc />
    protected override async Task<P2PSchedulerServer> StartDaemonAsync(HealthEndpoints health, CancellationToken cancellationToken)
        => await P2PSchedulerServer.StartAsync(_options, _loggerFactory, _time, health, cancellationToken).ConfigureAwait(false);

    /// <summary>Live and ready while the scheduler's listener is bound: its state is in memory, so serving is its job.</summary>
    internal sealed class HealthCheck(P2PSchedulerHostedService service) : IHealthCheck
    {
        public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
            => Task.FromResult(service.Server is { } server
                ? HealthCheckResult.Healthy($"listening on {server.Url}")
                : HealthCheckResult.Unhealthy("not started"));
    }
}

using Accelerator.Hosting.Health;
using Accelerator.Snapshotter.Layers;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Accelerator.Snapshotter.Hosting;

/// <summary>
/// The node daemon as a hosted service (<c>services.AddAccelSnapshotter(...)</c>): starts a <see cref="SnapshotterServer"/>
/// with the host, with every registered <see cref="ILayerProvider"/> and <see cref="ISnapshotterEndpoints"/>, and stops it
/// with the host.
/// </summary>
public sealed class SnapshotterHostedService : HostedDaemon<SnapshotterServer>
{
    /// <summary>The tag of the daemon's health checks.</summary>
    public const string HealthName = "snapshotter";

    private readonly SnapshotterOptions _options;
    private readonly IEnumerable<ILayerProvider> _providers;
    private readonly IEnumerable<ISnapshotterEndpoints> _endpoints;
    private readonly ILoggerFactory? _loggerFactory;
    private readonly TimeProvider? _time;

    /// <summary>Creates the service; the host starts it.</summary>
    public SnapshotterHostedService(
        IOptions<SnapshotterOptions> options,
        IEnumerable<ILayerProvider> providers,
        IEnumerable<ISnapshotterEndpoints> endpoints,
        HealthCheckService health,
        ILoggerFactory? loggerFactory = null,
        TimeProvider? time = null)
        : base(health, HealthName)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options.Value;
        _providers = providers;
        _endpoints = endpoints;
        _loggerFactory = loggerFactory;
        _time = time;
    }

    /// <summary>The running daemon; null before the host started it and after it stopped.</summary>
    public SnapshotterServer? Server => Daemon;

    /// <inheritdoc />
    protected override Task<SnapshotterServer> StartDaemonAsync(HealthEndpoints health, CancellationToken cancellationToken)
        => SnapshotterServer.StartAsync(_options, _providers, _endpoints, health, _loggerFactory, _time, cancellationToken);

    /// <summary>Live and ready while the daemon listens.</summary>
    internal sealed class HealthCheck(SnapshotterHostedService service) : IHealthCheck
    {
        public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
            => Task.FromResult(service.Server is { IsRunning: true } server
                ? HealthCheckResult.Healthy($"serving on {server.Address}")
                : HealthCheckResult.Unhealthy("not started"));
    }
}

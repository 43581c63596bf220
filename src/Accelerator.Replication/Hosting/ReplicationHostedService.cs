using Accelerator.Hosting.Health;
using Accelerator.Oci.Registry;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Accelerator.Replication.Hosting;

/// <summary>
/// The replication daemon as a hosted service (<c>services.AddReplicationService(...)</c>): starts a
/// <see cref="ReplicationService"/> with the host (its queue resumed from disk), serving the host's health checks for it
/// on <c>/healthz</c> and <c>/readyz</c>, and stops it with the host (queued events stay on disk).
/// </summary>
public sealed class ReplicationHostedService : HostedDaemon<ReplicationService>
{
    /// <summary>The tag of the service's health checks (and the prefix of their names).</summary>
    public const string HealthName = "replication";

    private readonly IServiceProvider _services;
    private readonly ReplicationServiceOptions _options;
    private readonly ReplicationOptions _replication;
    private readonly ILoggerFactory? _loggerFactory;
    private readonly TimeProvider? _time;
    private RegistryClient? _ownedClient;

    /// <summary>Creates the service; the host starts it.</summary>
    public ReplicationHostedService(
        IServiceProvider services, IOptions<ReplicationServiceOptions> options, IOptions<ReplicationOptions> replication, HealthCheckService health, ILoggerFactory? loggerFactory = null, TimeProvider? time = null)
        : base(health, HealthName)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(replication);
        _services = services;
        _options = options.Value;
        _replication = replication.Value;
        _loggerFactory = loggerFactory;
        _time = time;
    }

    /// <summary>The running service; <see langword="null"/> before the host started it and after it stopped.</summary>
    public ReplicationService? Service => Daemon;

    /// <inheritdoc />
    protected override async Task<ReplicationService> StartDaemonAsync(HealthEndpoints health, CancellationToken cancellationToken)
    {
        var client = _services.GetService<RegistryClient>();
        if (client is null)
        {
            client = _ownedClient = new RegistryClient(
                _services.GetService<IOptions<RegistryOptions>>()?.Value ?? new RegistryOptions(), logger: _loggerFactory?.CreateLogger<RegistryClient>(), time: _time);
        }

        var replicator = new Replicator(client, _replication, _loggerFactory?.CreateLogger<Replicator>());
        return await ReplicationService.StartAsync(replicator, _options, _loggerFactory, _time, health, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Disposes the registry client it created when the host had none.</summary>
    protected override ValueTask OnStoppedAsync()
    {
        Interlocked.Exchange(ref _ownedClient, null)?.Dispose();
        return ValueTask.CompletedTask;
    }

    /// <summary>Live while the listener is bound and the replication workers run.</summary>
    internal sealed class LivenessCheck(ReplicationHostedService service) : IHealthCheck
    {
        public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
            => Task.FromResult(service.Service is not { } running ? HealthCheckResult.Unhealthy("not started")
                : running.IsReplicating ? HealthCheckResult.Healthy($"listening on {running.EventsUrl}")
                : HealthCheckResult.Unhealthy("replication worker stopped"));
    }

    /// <summary>
    /// Ready while live and the queue has room: a full queue refuses notifications with 503 (the registry sends them again)
    /// until it drains, so the service cannot take new work then.
    /// </summary>
    internal sealed class ReadinessCheck(ReplicationHostedService service) : IHealthCheck
    {
        public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
        {
            if (service.Service is not { IsReplicating: true } running)
            {
                return Task.FromResult(HealthCheckResult.Unhealthy(service.Service is null ? "not started" : "replication worker stopped"));
            }

            long queued = running.GetMetrics().QueueLength;
            return Task.FromResult(queued < service._options.MaxQueueLength
                ? HealthCheckResult.Healthy($"{queued} tag(s) queued")
                : HealthCheckResult.Unhealthy($"queue full ({queued} tags): notifications are refused until it drains"));
        }
    }
}

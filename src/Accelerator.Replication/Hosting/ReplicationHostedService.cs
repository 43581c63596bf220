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
public sealed class ReplicationHostedService : IHostedService, IAsyncDisposable
{
    /// <summary>The tag of the service's health checks (and the prefix of their names).</summary>
    public const string HealthName = "replication";

    private readonly IServiceProvider _services;
    private readonly ReplicationServiceOptions _options;
    private readonly ReplicationOptions _replication;
    private readonly HealthCheckService _health;
    private readonly ILoggerFactory? _loggerFactory;
    private readonly TimeProvider? _time;
    private RegistryClient? _ownedClient;

    /// <summary>Creates the service; the host starts it.</summary>
    public ReplicationHostedService(
        IServiceProvider services, IOptions<ReplicationServiceOptions> options, IOptions<ReplicationOptions> replication, HealthCheckService health, ILoggerFactory? loggerFactory = null, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(replication);
        ArgumentNullException.ThrowIfNull(health);
        _services = services;
        _options = options.Value;
        _replication = replication.Value;
        _health = health;
        _loggerFactory = loggerFactory;
        _time = time;
    }

    /// <summary>The running service; <see langword="null"/> before the host started it and after it stopped.</summary>
    public ReplicationService? Service { get; private set; }

    /// <summary>
    /// Validates the options, opens the queue and starts the listener and workers. Registry reads and writes go through the
    /// host's <see cref="RegistryClient"/>, or one built from <see cref="RegistryOptions"/> when the host has none.
    /// </summary>
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var client = _services.GetService<RegistryClient>();
        if (client is null)
        {
            client = _ownedClient = new RegistryClient(
                _services.GetService<IOptions<RegistryOptions>>()?.Value ?? new RegistryOptions(), logger: _loggerFactory?.CreateLogger<RegistryClient>(), time: _time);
        }

        var replicator = new Replicator(client, _replication, _loggerFactory?.CreateLogger<Replicator>());
        Service = await ReplicationService.StartAsync(replicator, _options, _loggerFactory, _time, new HealthEndpoints(_health, HealthName), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Stops the listener and lets replications in flight end (they stay queued for the next start).</summary>
    public async Task StopAsync(CancellationToken cancellationToken) => await DisposeAsync().ConfigureAwait(false);

    /// <summary>Stops the service if it runs.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Service is { } service)
        {
            Service = null;
            await service.DisposeAsync().ConfigureAwait(false);
        }

        Interlocked.Exchange(ref _ownedClient, null)?.Dispose();
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

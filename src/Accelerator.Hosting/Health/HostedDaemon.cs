using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;

namespace Accelerator.Hosting.Health;

/// <summary>
/// A daemon run by a generic host: started with the host (its <c>/healthz</c> and <c>/readyz</c> answered from the
/// health checks tagged with its name, see <see cref="HealthEndpoints"/>), stopped and disposed with it. Register a
/// subclass with <c>services.AddHostedDaemon&lt;T&gt;(name, liveness, readiness)</c>.
/// </summary>
/// <typeparam name="TDaemon">The running daemon (a server that is disposed to stop).</typeparam>
public abstract class HostedDaemon<TDaemon> : IHostedService, IAsyncDisposable
    where TDaemon : class, IAsyncDisposable
{
    private readonly HealthCheckService _health;
    private readonly string _healthName;

    /// <summary>Creates the hosted daemon; its health checks carry the tag <paramref name="healthName"/>.</summary>
    protected HostedDaemon(HealthCheckService health, string healthName)
    {
        ArgumentNullException.ThrowIfNull(health);
        ArgumentException.ThrowIfNullOrEmpty(healthName);
        _health = health;
        _healthName = healthName;
    }

    /// <summary>The running daemon, or <see langword="null"/> before the host started it and after it stopped.</summary>
    protected TDaemon? Daemon { get; private set; }

    /// <inheritdoc />
    public async Task StartAsync(CancellationToken cancellationToken)
        => Daemon = await StartDaemonAsync(new HealthEndpoints(_health, _healthName), cancellationToken).ConfigureAwait(false);

    /// <inheritdoc />
    public async Task StopAsync(CancellationToken cancellationToken) => await DisposeAsync().ConfigureAwait(false);

    /// <summary>Stops the daemon (once; later calls do nothing).</summary>
    public async ValueTask DisposeAsync()
    {
        if (Daemon is { } daemon)
        {
            Daemon = null;
            await daemon.DisposeAsync().ConfigureAwait(false);
        }

        await OnStoppedAsync().ConfigureAwait(false);
        GC.SuppressFinalize(this);
    }

    /// <summary>Starts the daemon, serving <paramref name="health"/> on its listener.</summary>
    protected abstract Task<TDaemon> StartDaemonAsync(HealthEndpoints health, CancellationToken cancellationToken);

    /// <summary>Releases what the subclass created for the daemon, after the daemon stopped.</summary>
    protected virtual ValueTask OnStoppedAsync() => ValueTask.CompletedTask;
}

using Accelerator.Hosting;
using Accelerator.Hosting.Health;
using Accelerator.P2P.Protocol;
using Microsoft.Extensions.Logging;

namespace Accelerator.P2P.Scheduling;

/// <summary>
/// A P2P scheduler served on Kestrel (<c>accel p2p scheduler --listen URL</c>, or in-process): the
/// <see cref="P2PSchedulerService"/> API plus a background sweep that forgets peers that stopped reporting.
/// </summary>
public sealed class P2PSchedulerServer : IAsyncDisposable
{
    private readonly KestrelListener _listener;
    private readonly ITimer _sweep;
    private int _disposed;

    private P2PSchedulerServer(P2PSchedulerService service, KestrelListener listener, TimeProvider time)
    {
        Service = service;
        _listener = listener;
        var period = service.Scheduler.Options.PeerTtl / 4;
        _sweep = time.CreateTimer(_ => service.Scheduler.Sweep(), null, period, period);
    }

    /// <summary>The base URL the scheduler listens on (with the actual port when port 0 was asked for).</summary>
    public Uri Url => _listener.Url;

    /// <summary>The HTTP service (and through it the decision logic, <see cref="P2PSchedulerService.Scheduler"/>).</summary>
    public P2PSchedulerService Service { get; }

    /// <summary>The decision logic.</summary>
    public P2PScheduler Scheduler => Service.Scheduler;

    /// <summary>Validates <paramref name="options"/>, starts the scheduler and returns once it accepts connections.</summary>
    public static Task<P2PSchedulerServer> StartAsync(P2PSchedulerServerOptions options, ILoggerFactory? loggerFactory = null, TimeProvider? time = null, CancellationToken cancellationToken = default)
        => StartAsync(options, loggerFactory, time, health: null, cancellationToken);

    /// <summary>Starts the scheduler with <paramref name="health"/> answering <c>/healthz</c> and <c>/readyz</c> on its listener.</summary>
    internal static async Task<P2PSchedulerServer> StartAsync(P2PSchedulerServerOptions options, ILoggerFactory? loggerFactory, TimeProvider? time, HealthEndpoints? health, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        time ??= TimeProvider.System;
        var scheduler = new P2PScheduler(options.Scheduler, time, loggerFactory?.CreateLogger<P2PScheduler>());
        var service = new P2PSchedulerService(scheduler, options, loggerFactory, time);
        try
        {
            var listener = await KestrelListener.StartAsync(options.Listen, service.HandleAsync, P2PProtocol.MaxRequestBytes + (1024 * 1024), cancellationToken, tls: options.Tls, health: health).ConfigureAwait(false);
            return new P2PSchedulerServer(service, listener, time);
        }
        catch
        {
            service.Dispose();
            throw;
        }
    }

    /// <summary>Stops listening.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await _sweep.DisposeAsync().ConfigureAwait(false);
        await _listener.DisposeAsync().ConfigureAwait(false);
        Service.Dispose();
    }
}

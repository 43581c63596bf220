using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Accelerator.Cli.Commands;

/// <summary>
/// Runs the daemon commands (<c>accel p2p scheduler</c>, <c>accel p2p peer</c>, <c>accel replicate serve</c>) as a generic
/// host built from the same entry points an embedder uses (<c>AddP2PScheduler</c>, <c>AddP2PPeer</c>,
/// <c>AddRegistryMirrorProxy</c>, <c>AddReplicationService</c>), in the foreground until SIGINT or SIGTERM.
/// </summary>
internal static class DaemonHost
{
    /// <summary>
    /// Builds a host with <paramref name="logging"/> and the daemons <paramref name="addDaemons"/> registers, starts it,
    /// calls <paramref name="started"/> (the command's ready line), and returns once SIGINT or SIGTERM stopped it.
    /// </summary>
    /// <remarks>A daemon that fails to start throws out of here as it did when the command started it itself.</remarks>
    public static async Task RunAsync(Action<ILoggingBuilder> logging, Action<IServiceCollection> addDaemons, Func<IServiceProvider, Task> started, CancellationToken cancellationToken)
    {
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        logging(builder.Logging);
        // A daemon that fails to start is reported once, by the command's error line, as before the host (not also as
        // the host's "Hosting failed to start" with a stack trace).
        builder.Logging.AddFilter("Microsoft.Extensions.Hosting.Internal.Host", LogLevel.Critical);
        builder.Services.Configure<ConsoleLifetimeOptions>(o => o.SuppressStatusMessages = true);
        addDaemons(builder.Services);
        using var host = builder.Build();
        await host.StartAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await started(host.Services).ConfigureAwait(false);
            // Returns on SIGINT (the command's cancellation, or the host's console lifetime) and on SIGTERM (the console
            // lifetime stops the host); then the daemons stop cleanly.
            await host.WaitForShutdownAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            await host.StopAsync(CancellationToken.None).ConfigureAwait(false);
        }
    }
}

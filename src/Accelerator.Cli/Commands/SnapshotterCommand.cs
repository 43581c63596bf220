using System.CommandLine;
using Accelerator.Cli.Console;
using Accelerator.Fuse;
using Accelerator.Snapshotter.Configuration;
using Accelerator.Snapshotter.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Console;

namespace Accelerator.Cli.Commands;

/// <summary>
/// <c>accel snapshotter --address SOCK [--root DIR] [--config FILE]</c>: the node daemon, containerd's remote snapshotter
/// (<c>[proxy_plugins.accel] type = "snapshot"</c>), in the foreground until SIGINT or SIGTERM.
/// </summary>
internal static class SnapshotterCommand
{
    public static Command Create(CommonOptions common, CliConsole console)
    {
        var fetchTimeout = MountCommand.CreateFetchTimeout();
        var address = new Option<string?>("--address") { Description = "The unix socket containerd's proxy plugin names (created 0600). Default: /run/accel/snapshotter.sock, or [snapshotter] address.", HelpName = "SOCK" };
        var root = new Option<string?>("--root") { Description = "The state directory: snapshot metadata and trees (made 0700; one daemon per root). Default: /var/lib/accel, or [snapshotter] root.", HelpName = "DIR" };
        var config = new Option<string?>("--config") { Description = "A TOML file: [snapshotter] root/address and the sections of the daemon's other parts; flags override it.", HelpName = "FILE" };
        var takeover = new Option<bool>("--takeover")
        {
            Description = "Replace the daemon running on the same root: it is told to stop (SIGTERM), leaving its lazy and block mounts to this one, which resumes them (containers keep running). Without it, a running daemon on the root is an error.",
        };
        var criProxy = new SnapshotterCriProxy();
        var command = new Command("snapshotter", "Run the node daemon: containerd's remote snapshotter on a unix socket (see docs/containerd.md). Its mounts outlive it: the next daemon on the root takes them over.")
        {
            address, root, config, takeover, criProxy.Address, criProxy.Endpoint,
        };
        command.SetAction(CommonOptions.Guard(console, async (result, cancellationToken) =>
        {
            var configuration = new ConfigurationBuilder();
            if (result.GetValue(config) is { } file)
            {
                configuration.AddInMemoryCollection(TomlConfigurationFile.Read(file));
            }

            var settings = configuration.Build();
            string? addressFlag = result.GetValue(address);
            string? rootFlag = result.GetValue(root);
            if (result.GetValue(takeover))
            {
                // Before the root's lock is taken: the running daemon lets go of it once it handed its mounts to the holder.
                string daemonRoot = Path.GetFullPath(rootFlag ?? settings[$"{SnapshotterOptions.SectionName}:root"] ?? new SnapshotterOptions().Root);
                if (await SnapshotterTakeover.StopPredecessorAsync(daemonRoot, TimeSpan.FromSeconds(60), cancellationToken).ConfigureAwait(false) is { } predecessor)
                {
                    console.WriteLine($"Replacing the snapshotter process {predecessor} on {daemonRoot}.");
                }
            }

            await DaemonHost.RunAsync(
                logging => logging
                    .AddSimpleConsole(o =>
                    {
                        o.SingleLine = true;
                        o.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fff ";
                        o.UseUtcTimestamp = true;
                    })
                    .AddFilter("Microsoft", LogLevel.Warning)
                    .AddFilter("Grpc", LogLevel.Warning)
                    .SetMinimumLevel(LogLevel.Information)
                    .Services.Configure<ConsoleLoggerOptions>(o => o.LogToStandardErrorThreshold = LogLevel.Trace),
                services =>
                {
                    services.AddSingleton<IConfiguration>(settings);
                    services.Configure<SnapshotterOptions>(settings.GetSection(SnapshotterOptions.SectionName));

                    // ---- The daemon's parts: each binds its options from its own section of `settings` and registers
                    // its ILayerProvider (services.AddSingleton<ILayerProvider, ...>) or ISnapshotterEndpoints here.
                    // The snapshot-store provider ([cache]), the remote-image provider ([remote], [registry]) and the
                    // CRI image-service proxy ([cri_proxy]) are added one line each below. ----

                    services.AddSnapshotStoreLayers(settings.GetSection(SnapshotStoreLayersServiceCollectionExtensions.SectionName));

                    SnapshotterRemoteSnapshots.Add(services, common, result, settings, result.GetValue(fetchTimeout));
                    services.AddAccelSnapshotter(options =>
                    {
                        options.Address = addressFlag ?? options.Address;
                        options.Root = rootFlag ?? options.Root;
                    });

                    criProxy.Add(services, result, settings);
                },
                async daemons =>
                {
                    var server = daemons.GetRequiredService<SnapshotterHostedService>().Server!;
                    // However the daemon stops (SIGTERM, SIGINT, a successor's --takeover), its FUSE mounts stay up in
                    // the holder for the next daemon: containers on them keep running, their reads wait for it.
                    daemons.GetRequiredService<IHostApplicationLifetime>().ApplicationStopping.Register(FuseHandover.Begin);
                    SnapshotterTakeover.WritePid(server.Snapshotter.Root);
                    console.WriteLine($"Snapshotter listening on {server.Address} (root {server.Snapshotter.Root}).");
                    await console.Out.FlushAsync(CancellationToken.None).ConfigureAwait(false);
                },
                cancellationToken).ConfigureAwait(false);
            return 0;
        }));
        command.Options.Add(fetchTimeout);
        command.Subcommands.Add(SnapshotterStatusCommand.Create(console));
        return command;
    }
}

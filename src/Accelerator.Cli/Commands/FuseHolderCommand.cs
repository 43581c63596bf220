using System.CommandLine;
using Accelerator.Cli.Console;
using Accelerator.Fuse.Takeover;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Console;

namespace Accelerator.Cli.Commands;

/// <summary>
/// <c>accel fuse-holder --directory DIR</c> (hidden): runs the FUSE descriptor holder that keeps lazy and block mounts
/// alive across a restart of the process serving them (<see cref="FuseHolder"/>). Mounters start it themselves through
/// <see cref="ForAccelCli"/>; it exits 0 once it holds nothing and has no client for <c>--idle-exit</c>.
/// <c>--background</c> starts one detached (unless one listens) and prints its pid.
/// </summary>
internal static class FuseHolderCommand
{
    /// <summary>The command's name.</summary>
    public const string Name = "fuse-holder";

    public static Command Create(CliConsole console)
    {
        var directory = new Option<string>("--directory") { Description = "The holder's directory (created 0700; holds holder.sock and holder.log).", Required = true, HelpName = "DIR" };
        var idleExit = Flags.Duration("--idle-exit", "Exit after holding nothing with no client for this long (a number alone is seconds). Default: 10s.", TimeSpan.FromSeconds(1), allowZero: true);
        var background = new Option<bool>("--background") { Description = "Start the holder detached (unless one listens), print its pid and return." };
        var command = new Command(Name, "Keep /dev/fuse descriptors so that FUSE mounts survive a restart of the process serving them (used by mounters).")
        {
            directory, idleExit, background,
        };
        command.Hidden = true;
        command.SetAction(CommonOptions.Guard(console, async (result, cancellationToken) =>
        {
            string path = Path.GetFullPath(result.GetRequiredValue(directory));
            TimeSpan? idle = result.GetValue(idleExit);
            if (result.GetValue(background))
            {
                await using var client = await FuseHolderClient.ConnectAsync(path, ForAccelCli(idle), cancellationToken).ConfigureAwait(false);
                var held = await client.ListAsync(cancellationToken).ConfigureAwait(false);
                console.WriteLine($"FUSE holder {client.HolderPid} listening on {Path.Combine(path, FuseHolder.SocketName)} ({held.Count} held).");
                return 0;
            }

            using var logging = LoggerFactory.Create(b => b
                .AddSimpleConsole(o =>
                {
                    o.SingleLine = true;
                    o.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fff ";
                    o.UseUtcTimestamp = true;
                })
                .SetMinimumLevel(LogLevel.Information)
                .Services.Configure<ConsoleLoggerOptions>(o => o.LogToStandardErrorThreshold = LogLevel.Trace));
            var holder = new FuseHolder(new FuseHolderOptions { Directory = path, IdleExit = idle ?? TimeSpan.FromSeconds(10) }, logging.CreateLogger<FuseHolder>());
            await holder.RunAsync(cancellationToken).ConfigureAwait(false);
            return 0;
        }));
        return command;
    }

    /// <summary>
    /// Starts <c>accel fuse-holder --directory DIR</c> detached (<see cref="FuseHolderLauncher.Detached"/>) with this
    /// very program: the <c>accel</c> executable, or <c>dotnet accel.dll</c> when run through the dotnet host (as in
    /// tests). What mounters of the CLI pass to <see cref="FuseHolderClient.ConnectAsync"/>.
    /// </summary>
    /// <param name="idleExit">The holder's <c>--idle-exit</c>; its default when null.</param>
    public static FuseHolderLauncher ForAccelCli(TimeSpan? idleExit = null)
    {
        string? process = Environment.ProcessPath;
        string self = typeof(FuseHolderCommand).Assembly.Location;
        var arguments = new List<string>();
        string program;
        if (process is not null && (self.Length == 0 || Path.GetFileNameWithoutExtension(process) == "accel"))
        {
            // The accel executable itself (an apphost, or a single-file publish whose assembly has no location).
            program = process;
        }
        else
        {
            program = process is not null && Path.GetFileNameWithoutExtension(process) == "dotnet" ? process : "dotnet";
            arguments.Add(self);
        }

        arguments.Add(Name);
        if (idleExit is { } idle)
        {
            arguments.Add("--idle-exit");
            arguments.Add($"{(long)idle.TotalMilliseconds}ms");
        }

        return FuseHolderLauncher.Detached(program, arguments);
    }
}

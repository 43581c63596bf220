using System.CommandLine;
using Accelerator.Cli.Console;
using Accelerator.Oci.Registry;
using Accelerator.P2P.Hosting;
using Accelerator.P2P.Scheduling;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Console;

namespace Accelerator.Cli.Commands;

/// <summary>
/// <c>accel p2p scheduler</c> and <c>accel p2p peer</c>: the P2P distribution daemons, in the foreground until SIGINT or
/// SIGTERM.
/// </summary>
internal static partial class P2PCommand
{
    public static Command Create(CommonOptions common, CliConsole console)
    {
        var command = new Command("p2p", "P2P distribution: a scheduler, and peers that share verified pieces of blobs so the registry serves each blob about once.");
        command.Subcommands.Add(CreateScheduler(common, console));
        command.Subcommands.Add(CreatePeer(common, console));
        return command;
    }

    private static Command CreateScheduler(CommonOptions common, CliConsole console)
    {
        var listen = new Option<string>("--listen") { Description = "Where to serve the scheduler API, http://ADDRESS:PORT or https:// with --tls-cert (port 0: any free port).", Required = true, HelpName = "URL" };
        var tls = new ListenerTlsFlags();
        var pieceSize = Flags.Size("--piece-size", "Piece size, 64K to 64M (a number alone is bytes). Default: 4M.");
        var tokenKeyFile = new Option<string?>("--token-key-file") { Description = "A file holding the key task tokens are derived from (readable by its owner only); schedulers sharing it issue the same tokens, so a failover costs no re-registration.", HelpName = "FILE" };
        var peerTtl = Flags.Duration("--peer-ttl", "How long a silent peer is remembered (10s, 1m; a number alone is seconds). Default: 10s.", TimeSpan.FromSeconds(1));
        var tokenLifetime = Flags.Duration("--token-lifetime", "How long a task token opens pieces at most (renewed for task members before then), 8s to 7d (a number alone is seconds); 0: tokens that never expire, for fleets with older peers. Default: 1h.", TimeSpan.FromSeconds(1), allowZero: true);
        var limits = new SchedulerLimitOptions();
        var command = new Command("scheduler", "Serve a P2P scheduler: tasks, peers, the pieces each holds, parents for every piece, one back-to-source peer per piece, preheat, /metrics.")
        {
            listen, pieceSize, tokenKeyFile, peerTtl, tokenLifetime,
        };
        foreach (var option in tls.All)
        {
            command.Options.Add(option);
        }

        limits.AddTo(command);
        command.SetAction(CommonOptions.Guard(console, async (result, cancellationToken) =>
        {
            var lifetime = result.GetValue(tokenLifetime) ?? TimeSpan.FromHours(1);
            if (lifetime != TimeSpan.Zero && (lifetime < TimeSpan.FromSeconds(8) || lifetime > TimeSpan.FromDays(7)))
            {
                throw new FormatException("--token-lifetime: 0 (tokens that never expire) or 8 to 604800 seconds (four heartbeat intervals to 7 days).");
            }

            long piece = result.GetValue(pieceSize) ?? 4 << 20;

            var listenUrl = ParseListen("--listen", result.GetRequiredValue(listen));
            var options = new P2PSchedulerServerOptions
            {
                Listen = listenUrl,
                Tls = tls.Read(result),
                Registry = common.CreateRegistryOptions(result),
                Scheduler = new P2PSchedulerOptions
                {
                    PieceSize = piece <= int.MaxValue ? (int)piece : throw new FormatException("--piece-size: 64K to 64M."),
                    PeerTtl = result.GetValue(peerTtl) ?? TimeSpan.FromSeconds(10),
                    TokenLifetime = lifetime,
                    TokenKey = result.GetValue(tokenKeyFile) is { } keyFile ? await ReadKeyAsync(keyFile, cancellationToken).ConfigureAwait(false) : null,
                },
            };
            await limits.ApplyAsync(result, options, cancellationToken).ConfigureAwait(false);
            await DaemonHost.RunAsync(ConfigureLogging, services => services.AddP2PScheduler(options), async daemons =>
            {
                var server = daemons.GetRequiredService<P2PSchedulerHostedService>().Server!;
                console.WriteLine($"P2P scheduler listening on {server.Url} (metrics: {server.Url}metrics).");
                await console.Out.FlushAsync(CancellationToken.None).ConfigureAwait(false);
            }, cancellationToken).ConfigureAwait(false);
            return 0;
        }));
        return command;
    }

    /// <summary>Reads the token key: whoever reads it can mint task tokens for every blob.</summary>
    internal static Task<byte[]> ReadKeyAsync(string path, CancellationToken cancellationToken)
        => SecretFile.ReadAsync("--token-key-file", path, cancellationToken);

    /// <summary>An http:// or https:// listen URL, or one clear error naming the option.</summary>
    internal static Uri ParseListen(string option, string text)
        => Uri.TryCreate(text, UriKind.Absolute, out var url) && (url.Scheme == Uri.UriSchemeHttp || url.Scheme == Uri.UriSchemeHttps) && url.AbsolutePath == "/"
            ? url
            : throw new FormatException($"{option}: '{text}' is not an http(s)://ADDRESS:PORT URL.");

    /// <summary>Daemon logs: one line each, UTC timestamps, on stderr (stdout carries the ready line only).</summary>
    internal static void ConfigureLogging(ILoggingBuilder logging) => logging
        .AddSimpleConsole(o =>
        {
            o.SingleLine = true;
            o.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fff ";
            o.UseUtcTimestamp = true;
        })
        .AddFilter("Microsoft", LogLevel.Warning)
        .AddFilter("System.Net.Http", LogLevel.Warning)
        .SetMinimumLevel(Environment.GetEnvironmentVariable("ACCEL_DEBUG") == "1" ? LogLevel.Debug : LogLevel.Information)
        .Services.Configure<ConsoleLoggerOptions>(o => o.LogToStandardErrorThreshold = LogLevel.Trace);
}

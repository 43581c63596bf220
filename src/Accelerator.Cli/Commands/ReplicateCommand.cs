using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using Accelerator.Cli.Console;
using Accelerator.Oci.Copying;
using Accelerator.Replication;
using Accelerator.Replication.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Console;

namespace Accelerator.Cli.Commands;

/// <summary>
/// <c>accel replicate SRC DST...</c>: copy repositories and tags between registries (with a summary table), and
/// <c>accel replicate serve</c>: replicate every push a registry notifies, from a durable queue.
/// </summary>
internal static class ReplicateCommand
{
    private const string FilterHelp =
        "Replicate only REPO[:TAG] matching this glob (repeatable; any may match): '*' and '?' within a path segment, " +
        "'**' across segments ('**/' may match nothing), no ':TAG' means every tag. T-accel and T-accel-* come along with T.";

    public static Command Create(CommonOptions common, CliConsole console)
    {
        var source = new Argument<string>("SRC") { Description = "The source registry, host[:port] or host[:port]/repo-prefix (selects repositories at or under the prefix)." };
        var targets = new Argument<string[]>("DST") { Description = "Target registries, host[:port] or host[:port]/repo-prefix (the prefix is prepended to repository names).", Arity = ArgumentArity.OneOrMore };
        var filter = new Option<string[]>("--filter") { Description = FilterHelp, HelpName = "GLOB", Recursive = true };
        var delete = new Option<bool>("--delete") { Description = "Delete target tags in the filter's scope that the source no longer has." };
        var bandwidth = Flags.Size("--bandwidth", "Cap the total transfer rate at SIZE per second (512K, 20M; binary; a number alone is kilobytes of 1024 bytes, as in rsync's --bwlimit).", plainUnit: 1024);
        bandwidth.Recursive = true;
        var parallel = new Option<int>("--parallel") { Description = "Tags replicated at once.", DefaultValueFactory = _ => 2 };
        var command = new Command("replicate", "Replicate repositories and tags (with every platform and their -accel variants) from one registry to others.")
        {
            source, targets, filter, delete, bandwidth, parallel,
        };
        command.Subcommands.Add(CreateServe(common, console, filter, bandwidth));
        command.SetAction(CommonOptions.Guard(console, async (result, cancellationToken) =>
        {
            var from = ReplicationEndpoint.Parse(result.GetRequiredValue(source));
            var options = BuildOptions(result.GetRequiredValue(targets), result.GetValue(filter), result.GetValue(bandwidth), result.GetValue(parallel));
            options.Delete = result.GetValue(delete);
            await using var accelerator = common.CreateBuilder(result).Build();
            var client = CommonOptions.GetStores(accelerator).Registries;
            long started = Stopwatch.GetTimestamp();
            var report = await console.WithProgressAsync(sink =>
            {
                options.Progress = sink.IsActive
                    ? new Progress<CopyProgress>(p => sink.Report(p.Blob.Digest.ToString(), (p.Skipped ? "exists " : "copy ") + p.Blob.Digest.Encoded[..12], p.BytesDone, p.Blob.Size))
                    : null;
                return new Replicator(client, options).RunAsync(from, cancellationToken);
            }).ConfigureAwait(false);
            WriteReport(console, report, Stopwatch.GetElapsedTime(started));
            return report.Succeeded ? 0 : 1;
        }));
        return command;
    }

    private static Command CreateServe(CommonOptions common, CliConsole console, Option<string[]> filter, Option<long?> bandwidth)
    {
        var listen = new Option<string>("--listen") { Description = "Where to receive notifications, http://ADDRESS:PORT or https:// with --tls-cert (port 0: any free port).", Required = true, HelpName = "URL" };
        var tls = new ListenerTlsFlags();
        var to = new Option<string[]>("--to") { Description = "A target registry, host[:port][/repo-prefix] (repeatable).", Required = true, HelpName = "DST" };
        var dataDirectory = new Option<string>("--data-dir")
        {
            Description = "The durable event queue's directory.",
            HelpName = "DIR",
            DefaultValueFactory = _ => Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData, Environment.SpecialFolderOption.DoNotVerify), "accel", "replication"),
        };
        var sourceRegistry = new Option<string?>("--source") { Description = "Replicate from this registry, host[:port], whatever host an event names.", HelpName = "HOST" };
        var from = new Option<string[]>("--from") { Description = "A registry to replicate from, host[:port] as its clients address it (repeatable): an event's request.host must be one of these; events naming any other host are refused (403) and logged. This or --source is required.", HelpName = "REGISTRY", Arity = ArgumentArity.ZeroOrMore };
        var tokenFile = new Option<string?>("--auth-token-file") { Description = "Require 'Authorization: Bearer TOKEN' on notifications, TOKEN read from FILE (set the same header in the registry's endpoint config). Required unless --insecure-no-auth.", HelpName = "FILE" };
        var insecureNoAuth = new Option<bool>("--insecure-no-auth") { Description = "Accept notifications without a token; only with a loopback --listen (127.0.0.1, [::1], localhost)." };
        var maxQueue = new Option<int>("--max-queue") { Description = "The most tags waiting in the queue; notifications adding more are refused with 503 until it drains (the registry sends them again).", DefaultValueFactory = _ => ReplicationServiceOptions.DefaultMaxQueueLength, HelpName = "N" };
        var maxBody = Flags.Size("--max-body-size", "Refuse larger notifications with 413 (1K to 64M; binary). Default: 1M.");
        var oldMaxBody = Flags.Size("--max-body-bytes", "Replaced by --max-body-size.", hidden: true);
        var parallel = new Option<int>("--parallel") { Description = "Tags replicated at once.", DefaultValueFactory = _ => 2 };
        var command = new Command("serve", "Receive docker-registry notifications and replicate each tagged push to the targets, from a durable queue (with /healthz and /metrics).")
        {
            listen, to, dataDirectory, sourceRegistry, from, tokenFile, insecureNoAuth, maxBody, oldMaxBody, maxQueue, parallel,
        };
        foreach (var option in tls.All)
        {
            command.Options.Add(option);
        }

        command.SetAction(CommonOptions.Guard(console, async (result, cancellationToken) =>
        {
            var options = BuildOptions(result.GetRequiredValue(to), result.GetValue(filter), result.GetValue(bandwidth), result.GetValue(parallel));
            string? token = result.GetValue(tokenFile) is { } path ? (await File.ReadAllTextAsync(path, cancellationToken).ConfigureAwait(false)).Trim() : null;
            var serviceOptions = new ReplicationServiceOptions
            {
                Listen = Uri.TryCreate(result.GetRequiredValue(listen), UriKind.Absolute, out var url) ? url : throw new FormatException($"--listen: '{result.GetValue(listen)}' is not a URL."),
                Tls = tls.Read(result),
                DataDirectory = result.GetRequiredValue(dataDirectory),
                BearerToken = token,
                AllowUnauthenticated = result.GetValue(insecureNoAuth),
                MaxQueueLength = result.GetValue(maxQueue),
                MaxRequestBodyBytes = result.GetValue(maxBody) ?? result.GetValue(oldMaxBody) ?? ReplicationServiceOptions.DefaultMaxRequestBodyBytes,
                SourceRegistry = result.GetValue(sourceRegistry),
                Filter = options.Filter,
                MaxConcurrentReplications = result.GetValue(parallel),
            };
            foreach (string registry in (result.GetValue(from) ?? []).SelectMany(f => f.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)))
            {
                serviceOptions.SourceRegistries.Add(registry);
            }

            if (token is null && !serviceOptions.AllowUnauthenticated)
            {
                throw new FormatException("replicate serve: --auth-token-file FILE is required (or --insecure-no-auth with a loopback --listen): without it anyone who reaches the listener can make the service replicate.");
            }

            if (serviceOptions.SourceRegistry is null && serviceOptions.SourceRegistries.Count == 0)
            {
                throw new FormatException("replicate serve: name the registries to replicate from with --from REGISTRY (repeatable) or --source REGISTRY; an event's own request.host is not trusted.");
            }

            await using var accelerator = common.CreateBuilder(result).Build();
            var client = CommonOptions.GetStores(accelerator).Registries;
            // SIGINT and SIGTERM (systemd, kill, container stop) stop the host cleanly; queued events stay on disk for the next start.
            await DaemonHost.RunAsync(
                logging => logging
                    .AddSimpleConsole(o =>
                    {
                        o.SingleLine = true;
                        o.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fff ";
                        o.UseUtcTimestamp = true;
                    })
                    .AddFilter("Microsoft", LogLevel.Warning)
                    .SetMinimumLevel(LogLevel.Information)
                    .Services.Configure<ConsoleLoggerOptions>(o => o.LogToStandardErrorThreshold = LogLevel.Trace),
                services => services.AddSingleton(client).AddReplicationService(serviceOptions, options),
                async daemons =>
                {
                    var service = daemons.GetRequiredService<ReplicationHostedService>().Service!;
                    console.WriteLine($"Listening for registry notifications on {service.EventsUrl} (health: {service.Url}healthz, metrics: {service.Url}metrics).");
                    await console.Out.FlushAsync(CancellationToken.None).ConfigureAwait(false);
                },
                cancellationToken).ConfigureAwait(false);
            return 0;
        }));
        return command;
    }

    private static ReplicationOptions BuildOptions(string[] targets, string[]? filters, long? bandwidthBytes, int parallel)
    {
        var options = new ReplicationOptions
        {
            Filter = ReplicationFilter.Parse(filters ?? []),
            MaxParallelImages = parallel,
            Bandwidth = bandwidthBytes is { } bytes
                ? bytes >= 1024 ? new BandwidthLimiter(bytes) : throw new FormatException("--bandwidth must be at least 1 KB/s.")
                : null,
        };
        foreach (string target in targets)
        {
            options.Targets.Add(ReplicationEndpoint.Parse(target));
        }

        return options;
    }

    /// <summary>The summary table (stdout) and one error line per failure (stderr).</summary>
    private static void WriteReport(CliConsole console, ReplicationReport report, TimeSpan elapsed)
    {
        string[] header = ["IMAGE", "TARGET", "STATUS", "BLOBS COPIED/MOUNTED/PRESENT", "BYTES", "DIGEST"];
        var rows = report.Images.Select(i => new[]
        {
            i.Source,
            i.Target,
            i.Status.ToString().ToLowerInvariant(),
            i.Status == ReplicationStatus.Copied ? string.Create(CultureInfo.InvariantCulture, $"{i.BlobsCopied}/{i.BlobsMounted}/{i.BlobsSkipped}") : "-",
            i.Status == ReplicationStatus.Copied ? Units.Bytes(i.BytesCopied) : "-",
            i.Digest is { } d ? d.Algorithm + ":" + d.Encoded[..12] : "-",
        }).ToList();
        int[] widths = Enumerable.Range(0, header.Length).Select(c => rows.Select(r => r[c].Length).Append(header[c].Length).Max()).ToArray();
        string Line(string[] cells) => string.Join("  ", cells.Select((cell, c) => c == cells.Length - 1 ? cell : cell.PadRight(widths[c]))).TrimEnd();
        console.WriteLine(Line(header));
        foreach (var row in rows)
        {
            console.WriteLine(Line(row));
        }

        console.WriteLine(string.Create(
            CultureInfo.InvariantCulture,
            $"{report.Images.Count} image(s): {report.Count(ReplicationStatus.Copied)} copied, {report.Count(ReplicationStatus.Skipped)} skipped, " +
            $"{report.Count(ReplicationStatus.Deleted)} deleted, {report.Count(ReplicationStatus.Gone)} gone, {report.Count(ReplicationStatus.Failed)} failed; {Units.Bytes(report.BytesCopied)} ({report.BytesCopied} bytes) copied in {elapsed.TotalSeconds:F2} s."));
        foreach (var failure in report.Images.Where(i => i.Status == ReplicationStatus.Failed))
        {
            console.Error($"{failure.Source} -> {failure.Target}: {failure.Error}");
        }
    }
}

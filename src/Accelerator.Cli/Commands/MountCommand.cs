using Accelerator.Linux;
using System.CommandLine;
using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text.Json;
using Accelerator.Cli.Console;
using Accelerator.Cli.Strategies;
using Accelerator.Fuse.Takeover;
using Accelerator.Lazy.Mounting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Console;

namespace Accelerator.Cli.Commands;

/// <summary>
/// <c>accel mount REF MOUNTPOINT</c>: mounts an image through the accelerator facade (lazy first, then a full pull, or
/// the strategy asked for) and serves it in the foreground until SIGINT/SIGTERM or <c>accel umount</c>;
/// <c>--background</c> re-runs itself detached and returns once the mount is ready.
/// </summary>
internal static class MountCommand
{
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(200);

    public static Command Create(CommonOptions common, CliConsole console)
    {
        var image = new Argument<string>("REF") { Description = "The image: host[:port]/repo[:tag|@digest] or oci:DIR[:TAG]. Its lazy variant TAG-accel is used when present. With --strategy block, also file:PATH (a raw disk image)." };
        var mountPoint = new Argument<string>("MOUNTPOINT") { Description = "An existing directory to mount the root file system on." };
        var fetchTimeout = CreateFetchTimeout();
        var strategies = CliStrategies.Create();
        var strategy = new Option<string>("--strategy")
        {
            Description = $"{MountContext.Auto} ({strategies[0].Description}, then {string.Join(", ", strategies.Skip(1).Select(s => s.Description))}), " +
                $"{string.Join(", ", strategies.SkipLast(1).Select(s => s.Name))} or {strategies[^1].Name}.",
            DefaultValueFactory = _ => MountContext.Auto,
        };
        strategy.AcceptOnlyFromAmong([MountContext.Auto, .. strategies.Select(s => s.Name)]);
        var readOnly = new Option<bool>("--read-only") { Description = "Mount the bare read-only tree (default: writable, an overlay over it)." };
        // Before each cache had one flag name in every command, 'accel mount --cache-dir DIR' named the chunk cache, DIR/blocks
        // the block cache, and with --strategy cache the snapshot store: it still does (each strategy reads it as MountContext.CacheDirectory).
        var cacheDirectory = Flags.HiddenAlias("--cache-dir", "--chunk-cache-dir, --block-cache-dir and --snapshot-dir");
        var statsJson = new Option<string?>("--stats-json") { Description = "Write the mount's statistics as JSON to FILE when it is unmounted." };
        var recordTrace = new Option<string?>("--record-trace") { Description = "Record what is read, as a prefetch list for 'accel convert --prefetch-list', to FILE when unmounted (lazy: the files; block: the blocks, for 'accel convert --format block')." };
        var background = new Option<bool>("--background") { Description = "Serve from a detached process; return once the mount is ready." };
        var stateDirectory = new Option<string?>("--state-dir")
        {
            Description = "The parent of the mount's private directory (FUSE tree, overlay upper and work directories, block device file); " +
                "stale state found there and at MOUNTPOINT is cleaned up at start. Default: /run/accel (else a private directory in the temp path).",
            HelpName = "DIR",
        };
        var readyTimeout = Flags.Duration("--ready-timeout", "With --background: how long to wait for the mount (30s, 5m; a number alone is seconds). Default: 120s.", TimeSpan.FromSeconds(1));
        var holderDirectory = new Option<string?>("--holder-dir")
        {
            Description = $"Where the FUSE holder keeps lazy and block mounts alive, so that 'accel mount' run again at the same MOUNTPOINT takes the mount over (from a running or a crashed server). Default: {DefaultHolderDirectory}.",
            HelpName = "DIR",
        };
        var noTakeover = new Option<bool>("--no-takeover") { Description = "Keep no mount in the holder: the mount ends with this process, and a live mount at MOUNTPOINT is not taken over." };
        var command = new Command("mount", "Mount an image at MOUNTPOINT and serve it until SIGINT/SIGTERM or 'accel umount MOUNTPOINT'; run it again at the same MOUNTPOINT to take the mount over.")
        {
            image, mountPoint, strategy, readOnly, cacheDirectory, statsJson, recordTrace, background, readyTimeout, holderDirectory, noTakeover, stateDirectory,
        };
        // Each strategy's own options (lazy: --chunk-cache-dir; block: --block-cache-dir; cache: --snapshot-dir; full: --max-image-size).
        foreach (var option in strategies.SelectMany(s => s.MountOptions))
        {
            command.Options.Add(option);
        }

        // Read by the lazy and block strategies (FetchTimeoutFlag).
        command.Options.Add(fetchTimeout);

        command.SetAction(CommonOptions.Guard(console, async (result, cancellationToken) =>
        {
            string source = result.GetRequiredValue(image);
            bool rawDisk = result.GetValue(strategy) == Strategy.Block.Name && source.StartsWith(BlockCommand.FilePrefix, StringComparison.Ordinal);
            var reference = rawDisk ? null : ImageReference.Parse(source);
            string target = Path.GetFullPath(result.GetRequiredValue(mountPoint));
            if (!Directory.Exists(target))
            {
                throw new DirectoryNotFoundException($"The mount point {target} does not exist.");
            }

            if (result.GetValue(background))
            {
                return await StartInBackgroundAsync(target, result.GetValue(readyTimeout) ?? TimeSpan.FromSeconds(120), console, cancellationToken).ConfigureAwait(false);
            }

            string state = StateDirectory(result.GetValue(stateDirectory));
            string holder = result.GetValue(holderDirectory) is { } h ? Path.GetFullPath(h) : DefaultHolderDirectory;
            await SweepStaleStateAsync(target, state, holder, console, cancellationToken).ConfigureAwait(false);
            if (rawDisk)
            {
                string? rawStats = result.GetValue(statsJson) is { } r ? Path.GetFullPath(r) : null;
                return await MountRawDiskAsync(source, target, state, result.GetValue(readOnly), rawStats, console, cancellationToken).ConfigureAwait(false);
            }

            string? stats = result.GetValue(statsJson) is { } s ? Path.GetFullPath(s) : null;
            var builder = common.CreateBuilder(result);
            // Warnings go to standard error (a fetch that failed and why: "the registry ... is unreachable"); standard
            // output keeps only the command's own lines.
            builder.Services.AddLogging(logging => logging
                .AddSimpleConsole(o =>
                {
                    o.SingleLine = true;
                    o.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fff ";
                    o.UseUtcTimestamp = true;
                })
                .SetMinimumLevel(LogLevel.Warning)
                .Services.Configure<ConsoleLoggerOptions>(o => o.LogToStandardErrorThreshold = LogLevel.Trace));
            string chosen = result.GetRequiredValue(strategy);
            var context = new MountContext(
                result,
                chosen,
                result.GetValue(cacheDirectory) is { } c ? Path.GetFullPath(c) : null,
                stats,
                result.GetValue(recordTrace) is { } t ? Path.GetFullPath(t) : null,
                state)
            {
                Takeover = result.GetValue(noTakeover) ? null : new FuseTakeoverOptions { HolderDirectory = holder, Launcher = FuseHolderCommand.ForAccelCli() },
            };
            foreach (var cliStrategy in strategies)
            {
                cliStrategy.AddToMount(builder, context);
            }

            // auto: every strategy added, in the order their registrations declare (cache, lazy, block, full).
            if (chosen != MountContext.Auto)
            {
                builder.PreferStrategies(Strategy.Parse(chosen));
            }

            await using var accelerator = builder.Build();
            await using var mounted = await accelerator.MountAsync(
                reference!, target, new MountOptions { ReadOnly = result.GetValue(readOnly), Platform = common.GetPlatform(result) }, cancellationToken).ConfigureAwait(false);
            foreach (var (skipped, reason) in mounted.Statistics.Fallbacks)
            {
                console.WriteLine($"Strategy {skipped.Name} skipped: {reason}");
            }

            bool handedOver = await ServeAsync(mounted, console,
                $"Mounted {reference} ({mounted.ManifestDigest}) at {mounted.MountPoint} with strategy {mounted.Statistics.Strategy.Name} " +
                $"in {mounted.Statistics.TimeToReady.TotalSeconds:F2} s. Stop with Ctrl+C or 'accel umount {mounted.MountPoint}'.", cancellationToken).ConfigureAwait(false);
            if (handedOver)
            {
                // A successor serves the mount now: this process leaves it mounted and exits.
                console.WriteLine($"Handed {mounted.MountPoint} over to a successor; left mounted.");
                return 0;
            }

            // A mount that writes its own, richer statistics file (lazy) was told where; the others are written here.
            if (stats is not null && (mounted as IReportsStatisticsFile)?.StatisticsFile is null)
            {
                WriteStatistics(mounted.Statistics, stats);
            }

            console.WriteLine($"Unmounted {mounted.MountPoint}.");
            return 0;
        }));
        return command;
    }

    /// <summary>The name of <see cref="CreateFetchTimeout"/>'s flag, by which the strategies read it.</summary>
    internal const string FetchTimeoutFlag = "--fetch-timeout";

    /// <summary>
    /// <c>--fetch-timeout</c> (<c>accel mount</c>, <c>accel block serve</c>, <c>accel snapshotter</c>): the lazy and block
    /// strategies' fetch bound, after which a read of data not cached yet fails with EIO while the registry is down or
    /// hung (<c>LazyMountOptions.RequestTimeout</c>, <c>BlockMountOptions.RequestTimeout</c>).
    /// </summary>
    internal static Option<TimeSpan?> CreateFetchTimeout()
        => Flags.Duration(
            FetchTimeoutFlag,
            "Lazy and block: how long a read may wait for data not cached yet before it fails with EIO, when the registry is down or does not answer (30s, 5m; a number alone is seconds). Default: 120s.",
            TimeSpan.FromSeconds(1));

    // A raw disk image file (file:PATH) mounted by the block mounter directly: no image, no registry.
    private static async Task<int> MountRawDiskAsync(string source, string target, string stateDirectory, bool readOnly, string? stats, CliConsole console, CancellationToken cancellationToken)
    {
        string path = Path.GetFullPath(source[BlockCommand.FilePrefix.Length..]);
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"The disk image {path} does not exist.");
        }

        var mounter = new Accelerator.Block.Mounting.BlockMounter([], new Accelerator.Block.Mounting.BlockMountOptions { StateDirectory = stateDirectory });
        await using var mounted = await mounter.MountDiskAsync(
            Accelerator.Block.Disks.FileVirtualDisk.Open(path), target, readOnly, ownsDisk: true, cancellationToken: cancellationToken).ConfigureAwait(false);
        await ServeAsync(mounted, console,
            $"Mounted {path} ({mounted.FileSystemType} on {mounted.LoopDevice}, direct I/O: {(mounted.DirectIo ? "on" : "off")}) at {mounted.MountPoint} with strategy block " +
            $"in {mounted.Statistics.TimeToReady.TotalSeconds:F2} s. Stop with Ctrl+C or 'accel umount {mounted.MountPoint}'.", cancellationToken).ConfigureAwait(false);
        if (stats is not null)
        {
            WriteStatistics(mounted.Statistics, stats);
        }

        console.WriteLine($"Unmounted {mounted.MountPoint}.");
        return 0;
    }

    // The mounters' own default, made explicit so that the sweep looks where the mount will be made.
    private static string StateDirectory(string? flag) => flag is not null
        ? PrivateDirectory.Create(flag)
        : PrivateDirectory.FirstWritable(Accelerator.Chunks.LocalDirectories.RunDirectory, PrivateDirectory.InTemp("accel-run"));

    // What a killed 'accel mount' left at this mount point and in the state directory and no holder keeps (those are
    // taken over next): dead FUSE mounts, what stands on them, their loop devices and private directories. Live mounts
    // of other processes are left alone. Each action is printed; a failed sweep does not stop the mount.
    private static async Task SweepStaleStateAsync(string target, string stateDirectory, string holderDirectory, CliConsole console, CancellationToken cancellationToken)
    {
        StaleSweepReport report;
        try
        {
            var held = await FuseMountLease.ListHeldPathsAsync(holderDirectory, cancellationToken).ConfigureAwait(false);
            report = await new StaleMountSweeper().SweepAsync(
                new StaleSweepScope
                {
                    Roots = [target, stateDirectory],
                    StateDirectories = [stateDirectory],
                    IsHeld = StaleSweepScope.HeldAtOrUnder(held),
                },
                cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException)
        {
            console.Warn($"Cleaning up stale state at {target} and in {stateDirectory} failed: {ex.Message}");
            return;
        }

        foreach (string unmounted in report.Unmounted)
        {
            console.WriteLine($"Stale state: unmounted {unmounted}.");
        }

        foreach (string device in report.DetachedLoopDevices)
        {
            console.WriteLine($"Stale state: detached {device}.");
        }

        foreach (string directory in report.DeletedDirectories)
        {
            console.WriteLine($"Stale state: deleted {directory}.");
        }

        foreach (string failure in report.Failures)
        {
            console.Warn($"Stale state: {failure}");
        }
    }

    /// <summary>The holder directory of <c>accel mount</c> unless <c>--holder-dir</c> says otherwise.</summary>
    internal static readonly string DefaultHolderDirectory = Path.Combine(Accelerator.Chunks.LocalDirectories.RunDirectory, "holder");

    // Until SIGINT/SIGTERM, or (for a real mount) until someone unmounted the mount point, or a successor took the mount
    // over (true). The ready line is printed only once the signal handlers are in place, so a caller that signals as
    // soon as it reads it gets a clean stop.
    internal static async Task<bool> ServeAsync(IMountedImage mounted, CliConsole console, string ready, CancellationToken cancellationToken)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        using var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, Stop);
        using var terminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Stop);
        Task handedOver = (mounted as IHeldMountedImage)?.HandedOver ?? Task.Delay(Timeout.Infinite, stop.Token);
        console.WriteLine(ready);
        try
        {
            // Every strategy mounts something (a full pull an overlay of its unpacked tree); an 'accel umount' that
            // lands before this point ends the loop at once.
            while (MountTable.IsMountPoint(mounted.MountPoint) && !handedOver.IsCompleted)
            {
                await Task.WhenAny(handedOver, Task.Delay(PollInterval, stop.Token)).Unwrap().ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
        }

        return handedOver.IsCompletedSuccessfully;

        void Stop(PosixSignalContext context)
        {
            context.Cancel = true;
            stop.Cancel();
        }
    }

    private static void WriteStatistics(MountStatistics statistics, string path)
    {
        using var stream = File.Create(path);
        using var writer = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true });
        writer.WriteStartObject();
        writer.WriteString("strategy", statistics.Strategy.Name);
        writer.WriteNumber("timeToReadySeconds", statistics.TimeToReady.TotalSeconds);
        writer.WriteNumber("bytesFetched", statistics.BytesFetched);
        writer.WriteStartObject("bytesFetchedBySource");
        foreach (var (source, bytes) in statistics.BytesFetchedBySource)
        {
            writer.WriteNumber(source, bytes);
        }

        writer.WriteEndObject();
        writer.WriteNumber("bytesRead", statistics.BytesRead);
        writer.WriteNumber("chunksFetched", statistics.ChunksFetched);
        // The strategies the facade tried before the one that served, in order, and why each could not serve.
        writer.WriteStartArray("fallbacks");
        foreach (var (strategy, reason) in statistics.Fallbacks)
        {
            writer.WriteStartObject();
            writer.WriteString("strategy", strategy.Name);
            writer.WriteString("reason", reason);
            writer.WriteEndObject();
        }

        writer.WriteEndArray();
        writer.WriteEndObject();
    }

    private const string ErrorPrefix = "accel: error: ";

    // Runs the same command line without --background in a new session, then waits for the mount point to be mounted.
    private static async Task<int> StartInBackgroundAsync(string target, TimeSpan timeout, CliConsole console, CancellationToken cancellationToken)
    {
        string[] commandLine = Environment.GetCommandLineArgs();
        string process = Environment.ProcessPath ?? throw new InvalidOperationException("Cannot find this program's path to run it in the background.");
        var start = new ProcessStartInfo("setsid")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(process);
        if (Path.GetFileNameWithoutExtension(process) == "dotnet")
        {
            start.ArgumentList.Add(commandLine[0]);
        }

        foreach (string argument in commandLine.Skip(1).Where(a => a != "--background"))
        {
            start.ArgumentList.Add(argument);
        }

        // A live mount there already is taken over by the child: its ready line, not the mount's appearance, says when.
        bool takeover = MountTable.IsMountPoint(target);
        using var child = Process.Start(start) ?? throw new InvalidOperationException("Could not start the background process.");
        child.StandardInput.Close();

        // The server's report (each strategy skipped and why, then the line naming the strategy that serves) is shown
        // here too: a fallback must be visible in the background as in the foreground.
        var report = new List<string>();
        var served = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var ready = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        child.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null)
            {
                served.TrySetResult();
                return;
            }

            lock (report)
            {
                report.Add(e.Data);
            }

            if (e.Data.StartsWith("Mounted ", StringComparison.Ordinal))
            {
                ready.TrySetResult();
                served.TrySetResult();
            }
        };
        // Standard error is drained as it comes (a child that logs more than a pipe holds would otherwise block before
        // its mount appears) and shown only if the child fails.
        var errors = new List<string>();
        var errorsDone = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        child.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is null)
            {
                errorsDone.TrySetResult();
                return;
            }

            lock (errors)
            {
                errors.Add(e.Data);
            }
        };
        child.BeginOutputReadLine();
        child.BeginErrorReadLine();
        var stopwatch = Stopwatch.StartNew();
        while (takeover ? !ready.Task.IsCompleted : !MountTable.IsMountPoint(target))
        {
            if (child.HasExited)
            {
                await Task.WhenAny(errorsDone.Task, Task.Delay(TimeSpan.FromSeconds(5), cancellationToken)).ConfigureAwait(false);
                string error;
                lock (errors)
                {
                    // The child's own error line already says "accel: error:"; this process says it once.
                    error = string.Join(" ", errors.Select(l => l.StartsWith(ErrorPrefix, StringComparison.Ordinal) ? l[ErrorPrefix.Length..] : l)).Trim();
                }

                throw new InvalidOperationException($"The background mount exited with code {child.ExitCode}: {error}");
            }

            if (stopwatch.Elapsed > timeout)
            {
                child.Kill(entireProcessTree: true);
                throw new TimeoutException($"The background mount was not ready at {target} within {timeout.TotalSeconds:F0} s.");
            }

            await Task.Delay(PollInterval, cancellationToken).ConfigureAwait(false);
        }

        // The server prints its line once its signal handlers are in place, just after the mount appears.
        TimeSpan left = timeout - stopwatch.Elapsed;
        await Task.WhenAny(served.Task, Task.Delay(left > TimeSpan.Zero ? left : TimeSpan.Zero, cancellationToken)).ConfigureAwait(false);
        lock (report)
        {
            foreach (string line in report.Where(l => l.StartsWith("Strategy ", StringComparison.Ordinal) || l.StartsWith("Mounted ", StringComparison.Ordinal)))
            {
                console.WriteLine(line);
            }
        }

        console.WriteLine($"Mounted at {target}, served by process {child.Id}. Stop with 'accel umount {target}'.");
        return 0;
    }
}

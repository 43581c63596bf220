using System.CommandLine;
using System.Runtime.InteropServices;
using Accelerator.Block;
using Accelerator.Block.Disks;
using Accelerator.Block.Mounting;
using Accelerator.Block.Nbd;
using Accelerator.Block.Prefetch;
using Accelerator.Cli.Console;
using Accelerator.Oci.Validation;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Accelerator.Cli.Commands;

/// <summary><c>accel block serve REF --nbd unix:PATH|tcp://HOST:PORT</c>: serves an image's virtual disk over NBD.</summary>
internal static class BlockCommand
{
    /// <summary>The prefix of a raw disk image file given instead of an image reference.</summary>
    public const string FilePrefix = "file:";

    public static Command Create(CommonOptions common, CliConsole console)
    {
        var command = new Command("block", "Block devices: serve an image's virtual disk over NBD.");
        command.Subcommands.Add(CreateServe(common, console));
        return command;
    }

    private static Command CreateServe(CommonOptions common, CliConsole console)
    {
        var image = new Argument<string>("REF") { Description = "A block image (host[:port]/repo[:tag|@digest] or oci:DIR[:TAG]), or file:PATH for a raw disk image file." };
        var endpoints = new Option<string[]>("--nbd")
        {
            Description = "Where to listen: unix:PATH or tcp://HOST:PORT (repeatable).",
            Required = true,
            Arity = ArgumentArity.OneOrMore,
        };
        var name = new Option<string?>("--name") { Description = "The export name (default: the file or repository name; clients may also ask for the empty default name)." };
        var writable = new Option<bool>("--writable") { Description = "With file:PATH, accept writes to the file (default: read-only)." };
        var cacheDirectory = new Option<string?>("--block-cache-dir") { Description = "Where fetched blocks are cached (default: /var/cache/accel/blocks).", HelpName = "DIR" };
        var oldCacheDirectory = Flags.HiddenAlias("--cache-dir", "--block-cache-dir");
        var maxConnections = new Option<int>("--max-connections") { Description = "The most clients served at once.", DefaultValueFactory = _ => 64 };
        var allowRemote = new Option<bool>("--allow-remote") { Description = "Allow tcp:// endpoints beyond loopback (0.0.0.0, a public address): anyone who reaches the port reads the disk (and, with --writable, writes it); use --tls-cert/--tls-key/--tls-client-ca with it." };
        var tlsCert = new Option<string?>("--tls-cert") { Description = "Require TLS (NBD STARTTLS): the server certificate, PEM (intermediates may follow it). Needs --tls-key." };
        var tlsKey = new Option<string?>("--tls-key") { Description = "The private key of --tls-cert, PEM." };
        var tlsClientCa = new Option<string?>("--tls-client-ca") { Description = "Require a client certificate that chains to one of these PEM certificate authorities." };
        var idleTimeout = Flags.Duration("--idle-timeout", "How long a connection may stay silent (handshake or between requests) before it is closed (30s, 5m; a number alone is seconds; 0: never). Default: 300s.", TimeSpan.FromSeconds(1), allowZero: true);
        var fetchTimeout = MountCommand.CreateFetchTimeout();
        var recordTrace = new Option<string?>("--record-trace") { Description = "Record the blocks clients read, in first-read order, to FILE at shutdown (for 'accel convert --format block --prefetch-list'); block images only." };
        var command = new Command("serve", "Serve an image's virtual disk over NBD until SIGINT/SIGTERM (qemu-img, nbdcopy, nbdinfo and nbd-client can use it).")
        {
            image, endpoints, name, writable, cacheDirectory, oldCacheDirectory, maxConnections, allowRemote, tlsCert, tlsKey, tlsClientCa, idleTimeout, recordTrace, fetchTimeout,
        };
        command.SetAction(CommonOptions.Guard(console, async (result, cancellationToken) =>
        {
            var parsed = result.GetRequiredValue(endpoints).Select(NbdEndpoint.Parse).ToList();
            if (parsed.FirstOrDefault(e => !e.IsLoopback) is { } remote && !result.GetValue(allowRemote))
            {
                throw new ArgumentException($"{remote} is reachable from other hosts; NBD has no authentication without TLS. Listen on loopback or a unix socket, or pass --allow-remote (with --tls-cert/--tls-key).");
            }

            var serverOptions = new NbdServerOptions
            {
                MaxConnections = result.GetValue(maxConnections),
                IdleTimeout = (result.GetValue(idleTimeout) ?? TimeSpan.FromSeconds(300)) is var idle && idle == TimeSpan.Zero ? Timeout.InfiniteTimeSpan : idle,
                Tls = CreateTls(result.GetValue(tlsCert), result.GetValue(tlsKey), result.GetValue(tlsClientCa)),
            };
            new NbdServerOptionsValidator().ThrowIfInvalid(serverOptions, "NBD server");
            if (parsed.Any(e => !e.IsLoopback))
            {
                if (serverOptions.Tls is null)
                {
                    console.Warn("Serving beyond loopback without TLS: anyone who reaches the port reads the disk. Use --tls-cert/--tls-key and --tls-client-ca.");
                }
                else if (!serverOptions.Tls.RequiresClientCertificate && result.GetValue(writable))
                {
                    console.Warn("A writable export beyond loopback without --tls-client-ca: anyone who reaches the port may write the disk.");
                }
            }

            if (!OperatingSystem.IsWindows() && result.GetValue(tlsKey) is { } keyPath && (File.GetUnixFileMode(keyPath) & (UnixFileMode.GroupRead | UnixFileMode.OtherRead)) != 0)
            {
                console.Warn($"The TLS key {keyPath} is readable by other users; chmod 600 it.");
            }
            string source = result.GetRequiredValue(image);
            using var loggerFactory = LoggerFactory.Create(b => b.AddSimpleConsole(o => o.SingleLine = true).SetMinimumLevel(LogLevel.Warning));
            await using var host = common.CreateBuilder(result)
                .UseBlockDevice(o =>
                {
                    o.CacheDirectory = (result.GetValue(cacheDirectory) ?? result.GetValue(oldCacheDirectory)) is { } c ? Path.GetFullPath(c) : null;
                    o.RequestTimeout = result.GetValue(fetchTimeout) ?? o.RequestTimeout;
                })
                .Build();
            var statistics = new MountStatistics { Strategy = Strategy.Block };
            string? tracePath = result.GetValue(recordTrace) is { } t ? Path.GetFullPath(t) : null;
            if (tracePath is not null && source.StartsWith(FilePrefix, StringComparison.Ordinal))
            {
                throw new ArgumentException("--record-trace applies to block images only, not to file:PATH disks.");
            }

            var (opened, defaultName) = await OpenAsync(source, result.GetValue(writable), host.Services, common, result, statistics, cancellationToken).ConfigureAwait(false);
            var recorder = tracePath is null ? null : new BlockTraceRecorder(opened, opened.BlockSize, ownsInner: true);
            IVirtualDisk disk = recorder ?? opened;
            await using (disk.ConfigureAwait(false))
            {
                string exportName = result.GetValue(name) ?? defaultName;
                var export = new NbdExport(exportName, disk, source, readOnly: disk.IsReadOnly);
                await using var server = new NbdServer([export], serverOptions, loggerFactory.CreateLogger<NbdServer>());
                foreach (var endpoint in parsed)
                {
                    var bound = await server.ListenAsync(endpoint, cancellationToken).ConfigureAwait(false);
                    console.WriteLine($"Serving {exportName} ({disk.Size} bytes, {(export.IsReadOnly ? "read-only" : "writable")}{(serverOptions.Tls is null ? string.Empty : ", TLS required")}) at {bound.ToUri(exportName, serverOptions.Tls is not null)}");
                }

                console.WriteLine("Stop with Ctrl+C.");
                await WaitForSignalAsync(cancellationToken).ConfigureAwait(false);
                await server.StopAsync().ConfigureAwait(false);
                console.WriteLine($"Stopped: {server.Statistics.Connections} connection(s), {server.Statistics.Requests} request(s), {server.Statistics.BytesRead} bytes read, {server.Statistics.BytesWritten} bytes written.");
                if (recorder is not null)
                {
                    recorder.WriteToFile(tracePath!);
                    console.WriteLine($"Wrote the trace of {recorder.Blocks.Count} block(s) to {tracePath}.");
                }
            }

            return 0;
        }));
        return command;
    }

    /// <summary>Opens <c>file:PATH</c> as a raw disk, or a block image reference through the configured openers.</summary>
    public static async Task<(IVirtualDisk Disk, string DefaultName)> OpenAsync(
        string source, bool writable, IServiceProvider services, CommonOptions common, ParseResult result, MountStatistics statistics, CancellationToken cancellationToken)
    {
        if (source.StartsWith(FilePrefix, StringComparison.Ordinal))
        {
            string path = Path.GetFullPath(source[FilePrefix.Length..]);
            if (!File.Exists(path))
            {
                throw new FileNotFoundException($"The disk image {path} does not exist.");
            }

            return (FileVirtualDisk.Open(path, writable), Path.GetFileName(path));
        }

        if (writable)
        {
            throw new ArgumentException("--writable applies to file:PATH disks only.");
        }

        var reference = ImageReference.Parse(source);
        var reasons = new List<string>();
        foreach (var opener in services.GetServices<IBlockImageOpener>())
        {
            var (canOpen, reason) = await opener.CanOpenAsync(reference, common.GetPlatform(result), cancellationToken).ConfigureAwait(false);
            if (canOpen)
            {
                var opened = await opener.OpenAsync(reference, common.GetPlatform(result), statistics, cancellationToken).ConfigureAwait(false);
                string name = reference.Kind == ImageReferenceKind.Layout
                    ? Path.GetFileName(Path.TrimEndingDirectorySeparator(reference.LayoutPath ?? string.Empty))
                    : reference.Repository.Split('/')[^1];
                return (opened.Disk, name.Length > 0 ? name : "disk");
            }

            reasons.Add(reason ?? opener.GetType().Name);
        }

        throw new InvalidOperationException($"{reference} has no block image{(reasons.Count == 0 ? " format configured" : ": " + string.Join("; ", reasons))}.");
    }

    private static NbdTlsOptions? CreateTls(string? certificate, string? key, string? clientCa)
    {
        if (certificate is null && key is null)
        {
            return clientCa is null ? null : throw new ArgumentException("--tls-client-ca needs --tls-cert and --tls-key.");
        }

        if (certificate is null || key is null)
        {
            throw new ArgumentException("--tls-cert and --tls-key go together.");
        }

        try
        {
            return NbdTlsOptions.FromPemFiles(Path.GetFullPath(certificate), Path.GetFullPath(key), clientCa is null ? null : Path.GetFullPath(clientCa));
        }
        catch (System.Security.Cryptography.CryptographicException ex)
        {
            throw new ArgumentException($"The TLS certificate or key cannot be loaded: {ex.Message}", ex);
        }
    }

    private static async Task WaitForSignalAsync(CancellationToken cancellationToken)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        using var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, Stop);
        using var terminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Stop);
        try
        {
            await Task.Delay(Timeout.Infinite, stop.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
        }

        void Stop(PosixSignalContext context)
        {
            context.Cancel = true;
            stop.Cancel();
        }
    }
}

using System.Net.Sockets;
using Accelerator.Hosting.Health;
using Accelerator.Snapshotter.Grpc;
using Accelerator.Snapshotter.Layers;
using Accelerator.Snapshotter.Overlay;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Accelerator.Snapshotter.Hosting;

/// <summary>
/// The running node daemon: an <see cref="OverlaySnapshotter"/> on its root, served as containerd's snapshots service
/// (gRPC, HTTP/2 without TLS) on a unix socket that only root may use, with <c>/healthz</c>, <c>/readyz</c> and every
/// <see cref="ISnapshotterEndpoints"/> on the same socket. Disposing it stops listening, removes the socket and releases
/// the root; mounts containerd made stay.
/// </summary>
public sealed partial class SnapshotterServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ILogger _logger;
    private int _disposed;

    private SnapshotterServer(WebApplication app, OverlaySnapshotter snapshotter, string address, ILogger logger)
    {
        _app = app;
        Snapshotter = snapshotter;
        Address = address;
        _logger = logger;
    }

    /// <summary>The snapshotter behind the service.</summary>
    public OverlaySnapshotter Snapshotter { get; }

    /// <summary>The unix socket it listens on.</summary>
    public string Address { get; }

    /// <summary>Whether it is listening (until disposed).</summary>
    public bool IsRunning => Volatile.Read(ref _disposed) == 0;

    /// <summary>
    /// Opens the snapshotter on <see cref="SnapshotterOptions.Root"/> (refused when another daemon holds it) and starts
    /// listening on <see cref="SnapshotterOptions.Address"/>: a stale socket file is removed, a live one (another daemon
    /// answers) is refused; the socket's directory is created 0700 when missing and the socket is made 0600.
    /// </summary>
    /// <exception cref="IOException">Another daemon runs on the root or answers on the socket, or the address is not a socket.</exception>
    public static async Task<SnapshotterServer> StartAsync(
        SnapshotterOptions options,
        IEnumerable<ILayerProvider>? providers = null,
        IEnumerable<ISnapshotterEndpoints>? endpoints = null,
        HealthEndpoints? health = null,
        ILoggerFactory? loggerFactory = null,
        TimeProvider? time = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        loggerFactory ??= NullLoggerFactory.Instance;
        var logger = loggerFactory.CreateLogger<SnapshotterServer>();
        string address = Path.GetFullPath(options.Address);
        var snapshotter = OverlaySnapshotter.Open(Path.GetFullPath(options.Root), providers, time, loggerFactory);
        WebApplication? app = null;
        try
        {
            await PrepareSocketAsync(address, cancellationToken).ConfigureAwait(false);
            var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions());
            builder.Services.AddSingleton(loggerFactory);
            builder.Services.AddLogging();
            builder.Services.AddSingleton(snapshotter);
            builder.Services.AddRouting();
            builder.Services.AddGrpc();
            builder.WebHost.UseKestrelCore();
            builder.WebHost.ConfigureKestrel(kestrel =>
            {
                kestrel.AddServerHeader = false;
                kestrel.ListenUnixSocket(address, listen => listen.Protocols = HttpProtocols.Http2);
            });
            app = builder.Build();
            if (health is not null)
            {
                app.Use(next => health.Wrap(next));
            }
            else
            {
                app.MapGet(HealthEndpoints.LivenessPath, () => "ok\n");
                app.MapGet(HealthEndpoints.ReadinessPath, () => "ok\n");
            }

            app.MapGrpcService<SnapshotsGrpcService>();
            foreach (var extra in endpoints ?? [])
            {
                extra.Map(app);
            }

            await app.StartAsync(cancellationToken).ConfigureAwait(false);
            // Root only: whoever reaches the socket decides what containerd mounts.
            File.SetUnixFileMode(address, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            LogListening(logger, address, snapshotter.Root);
            return new SnapshotterServer(app, snapshotter, address, logger);
        }
        catch
        {
            if (app is not null)
            {
                await app.DisposeAsync().ConfigureAwait(false);
            }

            snapshotter.Dispose();
            throw;
        }
    }

    /// <summary>Stops listening (requests in flight get 5 seconds), removes the socket and releases the root.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        using (var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5)))
        {
            try
            {
                await _app.StopAsync(timeout.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                // Calls that did not finish in time are aborted by DisposeAsync.
            }
        }

        await _app.DisposeAsync().ConfigureAwait(false);
        File.Delete(Address);
        Snapshotter.Dispose();
        LogStopped(_logger, Address);
    }

    private static async Task PrepareSocketAsync(string address, CancellationToken cancellationToken)
    {
        string directory = Path.GetDirectoryName(address)!;
        if (!Directory.Exists(directory))
        {
            Directory.CreateDirectory(directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }

        var status = Accelerator.Linux.LibC.Lstat(Accelerator.Linux.LibC.AT_FDCWD, address);
        if (status is null)
        {
            return;
        }

        if (!status.Value.IsSocket)
        {
            throw new IOException($"{address} exists and is not a unix socket; refusing to replace it.");
        }

        using var probe = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            await probe.ConnectAsync(new UnixDomainSocketEndPoint(address), cancellationToken).ConfigureAwait(false);
        }
        catch (SocketException)
        {
            // Nobody answers: a socket left by a daemon that did not stop cleanly.
            File.Delete(address);
            return;
        }

        throw new IOException($"Another daemon answers on {address}; stop it first (one snapshotter per socket).");
    }
}

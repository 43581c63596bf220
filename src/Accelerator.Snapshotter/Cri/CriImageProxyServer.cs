using System.Net.Sockets;
using Accelerator.Containerd.Api.Cri;
using Accelerator.Containerd.Grpc;
using Accelerator.Hosting.Health;
using Accelerator.Linux;
using Grpc.Net.Client;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Accelerator.Snapshotter.Cri;

/// <summary>
/// The running CRI image-service proxy: Kestrel (HTTP/2 only) on a unix socket created 0600 in a 0700 directory,
/// serving <see cref="CriImageProxyService"/> and the daemon's <c>/healthz</c> and <c>/readyz</c>, with one gRPC channel to
/// containerd. Dispose to stop it; the socket is removed.
/// </summary>
public sealed class CriImageProxyServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly GrpcChannel _upstream;

    private CriImageProxyServer(WebApplication app, GrpcChannel upstream, string address)
    {
        _app = app;
        _upstream = upstream;
        Address = address;
    }

    /// <summary>The socket kubelet (<c>--image-service-endpoint unix://…</c>) connects to.</summary>
    public string Address { get; }

    /// <summary>
    /// Starts serving on <see cref="CriProxyOptions.Address"/>, forwarding to <see cref="CriProxyOptions.Endpoint"/>. A
    /// stale socket file is removed; a socket another process still answers on is refused.
    /// </summary>
    /// <exception cref="InvalidOperationException">Another process serves on the address.</exception>
    public static async Task<CriImageProxyServer> StartAsync(CriProxyOptions options, CriCredentialStore credentials, ILoggerFactory loggerFactory,
        HealthEndpoints? health = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(credentials);
        ArgumentNullException.ThrowIfNull(loggerFactory);
        string address = Path.GetFullPath(options.Address);
        PrivateDirectory.Create(Path.GetDirectoryName(address)!);
        await RemoveStaleSocketAsync(address, cancellationToken).ConfigureAwait(false);

        var upstream = UnixSocketChannel.Create(options.Endpoint, maxReceiveMessageSize: 16 * 1024 * 1024);
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.Services.AddSingleton(loggerFactory);
        builder.Services.AddSingleton(credentials);
        builder.Services.AddSingleton(new ImageService.ImageServiceClient(upstream));
        builder.Services.AddGrpc(o => o.MaxReceiveMessageSize = 16 * 1024 * 1024);
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            kestrel.ListenUnixSocket(address, listen => listen.Protocols = HttpProtocols.Http2);
        });
        var app = builder.Build();
        if (health is not null)
        {
            app.Use(next => health.Wrap(next));
        }

        app.MapGrpcService<CriImageProxyService>();
        try
        {
            await app.StartAsync(cancellationToken).ConfigureAwait(false);
            if (!OperatingSystem.IsWindows())
            {
                File.SetUnixFileMode(address, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            }
        }
        catch
        {
            await app.DisposeAsync().ConfigureAwait(false);
            upstream.Dispose();
            throw;
        }

        return new CriImageProxyServer(app, upstream, address);
    }

    /// <summary>Stops serving (requests in flight get 5 seconds) and removes the socket.</summary>
    public async ValueTask DisposeAsync()
    {
        using (var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5)))
        {
            await _app.StopAsync(timeout.Token).ConfigureAwait(false);
        }

        await _app.DisposeAsync().ConfigureAwait(false);
        _upstream.Dispose();
        File.Delete(Address);
    }

    private static async Task RemoveStaleSocketAsync(string address, CancellationToken cancellationToken)
    {
        if (!File.Exists(address))
        {
            return;
        }

        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            await socket.ConnectAsync(new UnixDomainSocketEndPoint(address), cancellationToken).ConfigureAwait(false);
        }
        catch (SocketException)
        {
            // Nobody listens: a socket file left by a process that died.
            File.Delete(address);
            return;
        }

        throw new InvalidOperationException($"Another process serves on {address}; stop it or choose another --cri-proxy socket.");
    }
}

using System.Net.Sockets;
using Accelerator.Containerd.Api.Snapshots;
using SnapshotsApi = Accelerator.Containerd.Api.Snapshots.Snapshots;
using Accelerator.Snapshotter.Hosting;
using Accelerator.Snapshotter.Layers;
using Grpc.Net.Client;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Accelerator.Snapshotter.Tests.Support;

/// <summary>
/// The snapshotter daemon in a generic host built from <c>AddAccelSnapshotter</c> (what <c>accel snapshotter</c> runs),
/// on a root and a socket of the test's choosing, with a real gRPC client over the socket.
/// </summary>
internal sealed class SnapshotterHost : IAsyncDisposable
{
    private readonly IHost _host;

    private SnapshotterHost(IHost host, string address)
    {
        _host = host;
        Address = address;
        Channel = CreateChannel(address);
        Client = new SnapshotsApi.SnapshotsClient(Channel);
    }

    public string Address { get; }

    public GrpcChannel Channel { get; }

    public SnapshotsApi.SnapshotsClient Client { get; }

    public SnapshotterServer Server => _host.Services.GetRequiredService<SnapshotterHostedService>().Server!;

    public static async Task<SnapshotterHost> StartAsync(string root, string runDirectory, params ILayerProvider[] providers)
    {
        string address = Path.Combine(runDirectory, "snapshotter.sock");
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        foreach (var provider in providers)
        {
            builder.Services.AddSingleton(provider);
        }

        builder.Services.AddAccelSnapshotter(o =>
        {
            o.Root = root;
            o.Address = address;
        });
        var host = builder.Build();
        try
        {
            await host.StartAsync();
        }
        catch
        {
            host.Dispose();
            throw;
        }

        return new SnapshotterHost(host, address);
    }

    /// <summary>A gRPC channel over the unix socket (HTTP/2 without TLS, as containerd's proxy client speaks).</summary>
    public static GrpcChannel CreateChannel(string address)
    {
        var handler = new SocketsHttpHandler
        {
            ConnectCallback = async (_, cancellationToken) =>
            {
                var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                try
                {
                    await socket.ConnectAsync(new UnixDomainSocketEndPoint(address), cancellationToken);
                    return new NetworkStream(socket, ownsSocket: true);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            },
        };
        return GrpcChannel.ForAddress("http://localhost", new GrpcChannelOptions { HttpHandler = handler });
    }

    public async ValueTask DisposeAsync()
    {
        Channel.Dispose();
        await _host.StopAsync();
        _host.Dispose();
    }
}

using System.Net.Sockets;
using Grpc.Net.Client;

namespace Accelerator.Containerd.Grpc;

/// <summary>
/// gRPC channels to a server listening on a unix socket (containerd, its CRI plugin, the snapshotter): HTTP/2 without
/// TLS over <see cref="UnixDomainSocketEndPoint"/>, the way containerd's own clients connect.
/// </summary>
public static class UnixSocketChannel
{
    /// <summary>
    /// Creates a channel to <paramref name="socketPath"/>. Every call opens (or reuses) a connection to that socket;
    /// the authority sent is <c>localhost</c>. Dispose the channel to close its connections.
    /// </summary>
    /// <param name="socketPath">The unix socket's path.</param>
    /// <param name="maxReceiveMessageSize">The largest message accepted; <see langword="null"/> for gRPC's default (4 MiB).</param>
    public static GrpcChannel Create(string socketPath, int? maxReceiveMessageSize = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(socketPath);
        var handler = new SocketsHttpHandler
        {
            ConnectCallback = async (_, cancellationToken) =>
            {
                var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                try
                {
                    await socket.ConnectAsync(new UnixDomainSocketEndPoint(socketPath), cancellationToken).ConfigureAwait(false);
                    return new NetworkStream(socket, ownsSocket: true);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            },
        };
        return GrpcChannel.ForAddress("http://localhost", new GrpcChannelOptions
        {
            HttpHandler = handler,
            DisposeHttpClient = true,
            MaxReceiveMessageSize = maxReceiveMessageSize,
        });
    }
}

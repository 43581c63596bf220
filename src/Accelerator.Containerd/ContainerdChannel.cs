using System.Net.Sockets;
using Grpc.Core;
using Grpc.Net.Client;

namespace Accelerator.Containerd;

/// <summary>gRPC channels to containerd (or a snapshotter) on a unix socket, and the headers containerd reads from each call.</summary>
public static class ContainerdChannel
{
    /// <summary>containerd's default socket.</summary>
    public const string DefaultAddress = "/run/containerd/containerd.sock";

    /// <summary>The gRPC metadata header naming the namespace a call works in (containerd's namespaces.GRPCHeader).</summary>
    public const string NamespaceHeader = "containerd-namespace";

    /// <summary>The gRPC metadata header naming the lease that keeps what a call creates from garbage collection.</summary>
    public const string LeaseHeader = "containerd-lease";

    // gRPC over a unix socket still needs an authority; containerd ignores it.
    private static readonly Uri Authority = new("http://localhost");

    /// <summary>
    /// A channel to the gRPC server listening on the unix socket <paramref name="socketPath"/> (HTTP/2 without TLS).
    /// Nothing connects until the first call; a missing socket fails that call with <see cref="StatusCode.Unavailable"/>.
    /// </summary>
    public static GrpcChannel ForUnixSocket(string socketPath)
    {
        ArgumentException.ThrowIfNullOrEmpty(socketPath);
        string path = Path.GetFullPath(socketPath);
        var handler = new SocketsHttpHandler
        {
            ConnectCallback = async (_, cancellationToken) =>
            {
                var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                try
                {
                    await socket.ConnectAsync(new UnixDomainSocketEndPoint(path), cancellationToken).ConfigureAwait(false);
                    return new NetworkStream(socket, ownsSocket: true);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            },
        };
        return GrpcChannel.ForAddress(Authority, new GrpcChannelOptions
        {
            HttpHandler = handler,
            DisposeHttpClient = true,
            // containerd answers up to 16 MiB per message (its default); our messages stay far below.
            MaxReceiveMessageSize = 16 * 1024 * 1024,
        });
    }

    /// <summary>The headers of a call in <paramref name="namespaceName"/>, under <paramref name="lease"/> when given.</summary>
    public static Metadata Headers(string namespaceName, string? lease = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(namespaceName);
        var headers = new Metadata { { NamespaceHeader, namespaceName } };
        if (lease is not null)
        {
            headers.Add(LeaseHeader, lease);
        }

        return headers;
    }
}

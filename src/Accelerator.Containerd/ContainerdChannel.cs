using Grpc.Core;
using Accelerator.Containerd.Grpc;
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

    /// <summary>
    /// A channel to the gRPC server listening on the unix socket <paramref name="socketPath"/> (HTTP/2 without TLS).
    /// Nothing connects until the first call; a missing socket fails that call with <see cref="StatusCode.Unavailable"/>.
    /// </summary>
    public static GrpcChannel ForUnixSocket(string socketPath)
    {
        ArgumentException.ThrowIfNullOrEmpty(socketPath);
        // containerd answers up to 16 MiB per message (its default); our messages stay far below.
        return UnixSocketChannel.Create(Path.GetFullPath(socketPath), maxReceiveMessageSize: 16 * 1024 * 1024);
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

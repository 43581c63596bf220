using System.Net;
using System.Net.Sockets;

namespace Accelerator.Testing;

/// <summary>Free TCP ports, for servers that must be told their address before they start.</summary>
public static class LoopbackPorts
{
    /// <summary>A TCP port free on <paramref name="address"/> at the time of the call.</summary>
    public static int Free(string address = "127.0.0.1")
    {
        using var listener = new TcpListener(IPAddress.Parse(address), 0);
        listener.Start();
        int port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }
}

using System.Net;
using System.Net.Sockets;

namespace Accelerator.Testing.Registry;

/// <summary>
/// A hung registry: a TCP listener that accepts every connection and never sends a byte (nor closes it until disposed),
/// on a given loopback address — typically the port of a <see cref="DockerRegistryProcess"/> stopped meanwhile.
/// </summary>
public sealed class SilentListener : IDisposable
{
    private readonly TcpListener _listener;
    private readonly List<Socket> _accepted = [];
    private readonly Task _accepting;

    private SilentListener(TcpListener listener)
    {
        _listener = listener;
        _accepting = AcceptAsync();
    }

    /// <summary>Connections accepted so far.</summary>
    public int Accepted
    {
        get
        {
            lock (_accepted)
            {
                return _accepted.Count;
            }
        }
    }

    /// <summary>Listens on <paramref name="host"/> (<c>ADDRESS:PORT</c>, e.g. <see cref="DockerRegistryProcess.Host"/>).</summary>
    public static SilentListener Start(string host)
    {
        var endpoint = IPEndPoint.Parse(host);
        var listener = new TcpListener(endpoint);
        listener.Server.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
        listener.Start();
        return new SilentListener(listener);
    }

    private async Task AcceptAsync()
    {
        try
        {
            while (true)
            {
                Socket socket = await _listener.AcceptSocketAsync().ConfigureAwait(false);
                lock (_accepted)
                {
                    _accepted.Add(socket);
                }
            }
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
            // Stopped.
        }
    }

    /// <summary>Stops listening and closes every accepted connection.</summary>
    public void Dispose()
    {
        _listener.Stop();
        _accepting.Wait(TimeSpan.FromSeconds(5));
        lock (_accepted)
        {
            foreach (Socket socket in _accepted)
            {
                socket.Dispose();
            }
        }
    }
}

using System.Net;
using System.Net.Sockets;

namespace Accelerator.Oci.Registry;

/// <summary>
/// Keeps redirects a registry answers from reaching this host's own services: a request marked with
/// <see cref="MarkAsRedirect"/> may connect only to addresses that are not loopback (127.0.0.0/8, ::1), link-local
/// (169.254.0.0/16, where clouds serve instance metadata; fe80::/10) or unspecified. The check runs on the addresses a
/// name resolves to, at connect time, so a DNS name pointing at 127.0.0.1 is caught too.
/// </summary>
public static class RedirectTargetGuard
{
    private static readonly HttpRequestOptionsKey<bool> RedirectKey = new("accel.redirect-target");

    /// <summary>Marks <paramref name="request"/> as one that follows a registry's redirect to another origin.</summary>
    public static void MarkAsRedirect(HttpRequestMessage request) => request.Options.Set(RedirectKey, true);

    /// <summary>Whether <paramref name="address"/> is this host's own or a link-local one.</summary>
    public static bool IsLocal(IPAddress address)
    {
        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }

        if (IPAddress.IsLoopback(address) || address.Equals(IPAddress.Any) || address.Equals(IPAddress.IPv6Any) || address.IsIPv6LinkLocal)
        {
            return true;
        }

        return address.AddressFamily == AddressFamily.InterNetwork && address.GetAddressBytes() is [169, 254, ..];
    }

    /// <summary>
    /// Installs the connect-time check on <paramref name="handler"/>, unless <paramref name="allowLocal"/> (connections
    /// are then made as usual).
    /// </summary>
    public static void Install(SocketsHttpHandler handler, bool allowLocal)
    {
        if (allowLocal)
        {
            return;
        }

        handler.ConnectCallback = ConnectAsync;
    }

    private static async ValueTask<Stream> ConnectAsync(SocketsHttpConnectionContext context, CancellationToken cancellationToken)
    {
        bool guarded = context.InitialRequestMessage.Options.TryGetValue(RedirectKey, out bool marked) && marked;
        var endpoint = context.DnsEndPoint;
        IPAddress[] addresses = IPAddress.TryParse(endpoint.Host, out var literal)
            ? [literal]
            : await Dns.GetHostAddressesAsync(endpoint.Host, cancellationToken).ConfigureAwait(false);
        if (guarded)
        {
            addresses = [.. addresses.Where(a => !IsLocal(a))];
            if (addresses.Length == 0)
            {
                throw new HttpRequestException($"refused a redirect to {endpoint.Host}: it is a loopback or link-local address");
            }
        }

        Exception? last = null;
        foreach (var address in addresses)
        {
            var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                await socket.ConnectAsync(address, endpoint.Port, cancellationToken).ConfigureAwait(false);
                return new NetworkStream(socket, ownsSocket: true);
            }
            catch (SocketException ex)
            {
                socket.Dispose();
                last = ex;
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        }

        throw last ?? new SocketException((int)SocketError.HostNotFound);
    }
}

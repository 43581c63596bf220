using System.Globalization;

namespace Accelerator.P2P.Proxy;

/// <summary>Where a proxied request goes: the registry host named by <c>ns</c> or configured, and its base URL.</summary>
internal static class UpstreamRegistry
{
    private const int MaxHostLength = 253 + 6;

    /// <summary>Whether <paramref name="registry"/> is a <c>host[:port]</c> (a DNS name, IPv4 address or bracketed IPv6).</summary>
    public static bool IsValidHost(ReadOnlySpan<char> registry)
    {
        if (registry.IsEmpty || registry.Length > MaxHostLength)
        {
            return false;
        }

        var host = registry;
        int colon = registry.LastIndexOf(':');
        int bracket = registry.LastIndexOf(']');
        if (colon > bracket)
        {
            var port = registry[(colon + 1)..];
            if (!ushort.TryParse(port, NumberStyles.None, CultureInfo.InvariantCulture, out ushort number) || number == 0)
            {
                return false;
            }

            host = registry[..colon];
        }

        if (host.StartsWith('[') && host.EndsWith(']'))
        {
            return System.Net.IPAddress.TryParse(host[1..^1], out var v6) && v6.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6;
        }

        return Uri.CheckHostName(host.ToString()) is UriHostNameType.Dns or UriHostNameType.IPv4;
    }

    /// <summary>The base URL of <paramref name="registry"/>'s API (Docker Hub's names map to its API host).</summary>
    public static Uri BaseUri(string registry, bool plainHttp)
    {
        string host = registry.ToLowerInvariant() switch
        {
            "docker.io" or "index.docker.io" => "registry-1.docker.io",
            _ => registry,
        };
        return new Uri($"{(plainHttp ? "http" : "https")}://{host}/v2/");
    }
}

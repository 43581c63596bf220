using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Accelerator.Block.Nbd;

/// <summary>Where an <see cref="NbdServer"/> listens: <c>unix:PATH</c> or <c>tcp://HOST:PORT</c>.</summary>
public sealed class NbdEndpoint
{
    private NbdEndpoint(string? path, string? host, int port)
    {
        UnixPath = path;
        Host = host;
        Port = port;
    }

    /// <summary>The unix socket path, or null for TCP.</summary>
    public string? UnixPath { get; }

    /// <summary>The TCP host (an IP address or <c>localhost</c>), or null for a unix socket.</summary>
    public string? Host { get; }

    /// <summary>The TCP port (0: any free port), or 0 for a unix socket.</summary>
    public int Port { get; }

    /// <summary>Whether this is a unix socket.</summary>
    public bool IsUnix => UnixPath is not null;

    /// <summary>
    /// Whether only this host can reach the endpoint: a unix socket, <c>localhost</c> or a loopback address (not the
    /// any-address <c>0.0.0.0</c>/<c>::</c>).
    /// </summary>
    public bool IsLoopback => IsUnix
        || string.Equals(Host, "localhost", StringComparison.OrdinalIgnoreCase)
        || (IPAddress.TryParse(Host, out var address) && IPAddress.IsLoopback(address));

    /// <summary>A unix socket endpoint.</summary>
    public static NbdEndpoint Unix(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        return new NbdEndpoint(Path.GetFullPath(path), null, 0);
    }

    /// <summary>A TCP endpoint.</summary>
    public static NbdEndpoint Tcp(string host, int port)
    {
        ArgumentException.ThrowIfNullOrEmpty(host);
        ArgumentOutOfRangeException.ThrowIfNegative(port);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(port, 65535);
        return new NbdEndpoint(null, host, port);
    }

    /// <summary>Parses <c>unix:PATH</c> or <c>tcp://HOST:PORT</c> (IPv6 hosts in brackets).</summary>
    /// <exception cref="FormatException">It is neither.</exception>
    public static NbdEndpoint Parse(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        if (value.StartsWith("unix:", StringComparison.Ordinal) && value.Length > 5)
        {
            return Unix(value[5..]);
        }

        if (value.StartsWith("tcp://", StringComparison.Ordinal))
        {
            string rest = value[6..].TrimEnd('/');
            int colon = rest.LastIndexOf(':');
            if (colon > 0 && int.TryParse(rest[(colon + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out int port) && port <= 65535)
            {
                string host = rest[..colon].Trim('[', ']');
                if (host.Length > 0)
                {
                    return Tcp(host, port);
                }
            }
        }

        throw new FormatException($"'{value}' is not an NBD endpoint: use unix:PATH or tcp://HOST:PORT.");
    }

    /// <summary>The socket address to bind.</summary>
    /// <exception cref="FormatException">The host is neither an IP address nor <c>localhost</c>.</exception>
    public EndPoint ToEndPoint()
    {
        if (UnixPath is not null)
        {
            return new UnixDomainSocketEndPoint(UnixPath);
        }

        if (string.Equals(Host, "localhost", StringComparison.OrdinalIgnoreCase))
        {
            return new IPEndPoint(IPAddress.Loopback, Port);
        }

        return IPAddress.TryParse(Host, out var address)
            ? new IPEndPoint(address, Port)
            : throw new FormatException($"The NBD host '{Host}' is not an IP address.");
    }

    /// <inheritdoc />
    public override string ToString() => UnixPath is not null ? "unix:" + UnixPath : Host!.Contains(':', StringComparison.Ordinal) ? $"tcp://[{Host}]:{Port}" : $"tcp://{Host}:{Port}";

    /// <summary>
    /// An NBD URI for an export at this endpoint (<c>nbd+unix:///NAME?socket=PATH</c> or <c>nbd://HOST:PORT/NAME</c>;
    /// with <paramref name="tls"/>, the <c>nbds</c> schemes).
    /// </summary>
    public string ToUri(string exportName, bool tls = false)
    {
        string name = Uri.EscapeDataString(exportName);
        string s = tls ? "s" : string.Empty;
        return UnixPath is not null ? $"nbd{s}+unix:///{name}?socket={UnixPath}" : $"nbd{s}://{(Host!.Contains(':', StringComparison.Ordinal) ? $"[{Host}]" : Host)}:{Port}/{name}";
    }
}

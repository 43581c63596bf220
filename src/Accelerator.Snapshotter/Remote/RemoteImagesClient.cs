using System.Net;
using System.Net.Sockets;
using System.Text.Json;

namespace Accelerator.Snapshotter.Remote;

/// <summary>
/// Reads <c>GET /v1/images</c> from a node daemon's unix socket (HTTP/2 without TLS, as the socket serves only h2c):
/// what <c>accel snapshotter status</c> prints.
/// </summary>
public static class RemoteImagesClient
{
    /// <summary>The path of the status endpoint.</summary>
    public const string Path = "/v1/images";

    /// <summary>The JSON the daemon answers (an array of <see cref="RemoteImageStatus"/>).</summary>
    /// <exception cref="HttpRequestException">The socket does not answer, or answers with an error status.</exception>
    public static async Task<string> GetJsonAsync(string socketPath, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(socketPath);
        using var handler = new SocketsHttpHandler
        {
            ConnectCallback = async (_, ct) =>
            {
                var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                try
                {
                    await socket.ConnectAsync(new UnixDomainSocketEndPoint(socketPath), ct).ConfigureAwait(false);
                    return new NetworkStream(socket, ownsSocket: true);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            },
        };
        using var client = new HttpClient(handler) { Timeout = TimeSpan.FromSeconds(30) };
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri("http://localhost" + Path))
        {
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };
        using var response = await client.SendAsync(request, cancellationToken).ConfigureAwait(false);
        response.EnsureSuccessStatusCode();
        return await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The images the daemon decided about.</summary>
    public static async Task<IReadOnlyList<RemoteImageStatus>> GetAsync(string socketPath, CancellationToken cancellationToken = default)
    {
        string json = await GetJsonAsync(socketPath, cancellationToken).ConfigureAwait(false);
        return JsonSerializer.Deserialize(json, RemoteSnapshotsJsonContext.Default.IReadOnlyListRemoteImageStatus) ?? [];
    }
}

using Accelerator.Oci;

namespace Accelerator.P2P.Proxy;

/// <summary>
/// Puts a peer's registry-mirror proxy in front of every registry's blobs (a <see cref="PeerProxyBlobSource"/> per
/// registry), with the source the registry would use otherwise — its mirrors, the origin — as the fallback.
/// </summary>
public sealed class PeerProxyBlobSourceDecorator : IRegistryBlobSourceDecorator, IDisposable
{
    private readonly Uri _proxy;
    private readonly HttpClient _http;

    /// <summary>Creates the decorator for the proxy at <paramref name="proxy"/>; connecting may take <paramref name="connectTimeout"/>.</summary>
    public PeerProxyBlobSourceDecorator(Uri proxy, TimeSpan? connectTimeout = null)
    {
        ArgumentNullException.ThrowIfNull(proxy);
        _proxy = proxy;
        // No overall timeout: a large blob streams for as long as it takes; a dead peer fails at connect.
        _http = new HttpClient(new SocketsHttpHandler { ConnectTimeout = connectTimeout ?? TimeSpan.FromSeconds(10), AllowAutoRedirect = false })
        {
            Timeout = Timeout.InfiniteTimeSpan,
        };
    }

    /// <inheritdoc />
    public IBlobSource Decorate(string registry, IBlobSource next)
        => new FallbackBlobSource(new PeerProxyBlobSource(_proxy, registry, _http), next);

    /// <inheritdoc />
    public void Dispose() => _http.Dispose();
}

namespace Accelerator.P2P;

/// <summary>
/// Options of P2P distribution for an accelerator: where registry blobs are read through P2P. Full pulls, lazy and block
/// mounts then read their blobs and chunks from peers first and fall back to the mirrors and the origin registry when
/// the peer cannot answer.
/// </summary>
public sealed class P2POptions
{
    /// <summary>
    /// The registry-mirror proxy of the local peer daemon (<c>accel p2p peer --proxy URL</c>), e.g.
    /// <c>http://127.0.0.1:65001</c>. Blobs are read through it as containerd would (with <c>ns=REGISTRY</c>); the peer
    /// fetches them through P2P. Required.
    /// </summary>
    public Uri? Proxy { get; set; }

    /// <summary>How long connecting to the peer may take before a read falls back to the registry.</summary>
    /// <value>10 seconds.</value>
    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>The problems with these options, or an empty list.</summary>
    public IReadOnlyList<string> GetProblems()
    {
        var problems = new List<string>();
        if (Proxy is null)
        {
            problems.Add("P2P: Proxy (the local peer's registry-mirror proxy URL) is required.");
        }
        else if (!Proxy.IsAbsoluteUri || (Proxy.Scheme != Uri.UriSchemeHttp && Proxy.Scheme != Uri.UriSchemeHttps) || Proxy.Query.Length > 0)
        {
            problems.Add($"P2P: Proxy must be an absolute http(s) URL without a query, not '{Proxy}'.");
        }

        if (ConnectTimeout <= TimeSpan.Zero)
        {
            problems.Add("P2P: ConnectTimeout must be positive.");
        }

        return problems;
    }
}

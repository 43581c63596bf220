namespace Accelerator.Oci.Mirrors;

/// <summary>
/// One host of a registry's mirror set (a <c>[host."URL"]</c> table of containerd's <c>hosts.toml</c>, or its
/// <c>server</c>): the URL, what it may be asked, and how to talk to it. Credentials are not here: they are per host in
/// <see cref="Registry.RegistryOptions.Hosts"/> (key <c>host[:port]</c> of the URL) or docker's config.json, and are
/// sent to that host only.
/// </summary>
public sealed class MirrorEndpoint
{
    /// <summary>Creates an endpoint for an absolute <c>http</c> or <c>https</c> URL.</summary>
    public MirrorEndpoint(Uri url)
    {
        ArgumentNullException.ThrowIfNull(url);
        Url = url;
    }

    /// <summary>
    /// The URL: <c>https://host[:port][/path]</c>, or <c>http://</c> for plain HTTP to this host only. Without
    /// <see cref="OverridePath"/> the API lives at <c>PATH/v2</c> (just <c>/v2</c> without a path).
    /// </summary>
    public Uri Url { get; }

    /// <summary>What this host may be asked.</summary>
    /// <value>Default <see cref="MirrorCapabilities.Pull"/>: tags are resolved elsewhere (hosts.toml entries default to all, as in containerd).</value>
    public MirrorCapabilities Capabilities { get; set; } = MirrorCapabilities.Pull;

    /// <summary>The URL's path is the API root itself (containerd's <c>override_path</c>), e.g. <c>https://mirror/v2/upstream</c>.</summary>
    /// <value>Default <see langword="false"/>.</value>
    public bool OverridePath { get; set; }

    /// <summary>Accept any TLS certificate from this host (containerd's <c>skip_verify</c>).</summary>
    /// <value>Default <see langword="false"/>.</value>
    public bool SkipTlsVerify { get; set; }

    /// <summary>Extra headers sent to this host only (containerd's <c>header</c>).</summary>
    /// <value>Empty by default.</value>
    public IDictionary<string, IReadOnlyList<string>> Headers { get; } = new Dictionary<string, IReadOnlyList<string>>(StringComparer.OrdinalIgnoreCase);

    /// <summary>
    /// Parses a URL as containerd does: without a scheme, <c>https://</c> is assumed. Throws <see cref="FormatException"/>
    /// for anything that is not an absolute http(s) URL with a host and no query, fragment or user info.
    /// </summary>
    public static MirrorEndpoint Parse(string url, MirrorCapabilities capabilities = MirrorCapabilities.Pull)
    {
        ArgumentNullException.ThrowIfNull(url);
        string text = url.Trim();
        if (!text.Contains("://", StringComparison.Ordinal))
        {
            text = "https://" + text;
        }

        if (!Uri.TryCreate(text, UriKind.Absolute, out var uri))
        {
            throw new FormatException($"'{Shorten(url)}' is not a URL.");
        }

        var endpoint = new MirrorEndpoint(uri) { Capabilities = capabilities };
        if (endpoint.Problem() is { } problem)
        {
            throw new FormatException($"'{Shorten(url)}': {problem}.");
        }

        return endpoint;
    }

    /// <summary>What is wrong with the URL, or null.</summary>
    internal string? Problem()
    {
        if (!Url.IsAbsoluteUri || (Url.Scheme != Uri.UriSchemeHttp && Url.Scheme != Uri.UriSchemeHttps))
        {
            return "only http and https URLs are supported";
        }

        if (string.IsNullOrEmpty(Url.Host))
        {
            return "the URL has no host";
        }

        if (Url.UserInfo.Length > 0)
        {
            return "credentials do not belong in the URL (configure them per host)";
        }

        if (Url.Query.Length > 0 || Url.Fragment.Length > 0)
        {
            return "the URL must not have a query or fragment";
        }

        if (Url.AbsolutePath.Contains("//", StringComparison.Ordinal))
        {
            return "the URL's path has an empty segment";
        }

        return (Capabilities & ~MirrorCapabilities.All) != 0 ? "unknown capabilities" : null;
    }

    /// <summary>
    /// The API root path: containerd's rule — the URL's path (cleaned), with <c>/v2</c> appended unless it already ends
    /// so or <see cref="OverridePath"/> is set; <c>/v2</c> when the URL has no path.
    /// </summary>
    internal string ApiPath
    {
        get
        {
            string path = Url.AbsolutePath.TrimEnd('/');
            if (OverridePath)
            {
                return path.Length == 0 ? "/" : path;
            }

            return path.EndsWith("/v2", StringComparison.Ordinal) ? path : path + "/v2";
        }
    }

    /// <inheritdoc />
    public override string ToString() => Url.ToString();

    private static string Shorten(string s) => s.Length > 120 ? s[..120] + "…" : s;
}

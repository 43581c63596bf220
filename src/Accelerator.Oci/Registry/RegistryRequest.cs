namespace Accelerator.Oci.Registry;

/// <summary>One logical request to a registry: what to send, to whom, under which token scopes, and whether it may be replayed.</summary>
internal sealed class RegistryRequest
{
    public RegistryRequest(HttpMethod method, string registry, Uri uri, params string[] scopes)
    {
        Method = method;
        Registry = registry;
        Uri = uri;
        Scopes = scopes;
    }

    public HttpMethod Method { get; }

    /// <summary>The registry host key the request is for: credentials and tokens of this host only are attached.</summary>
    public string Registry { get; }

    public Uri Uri { get; }

    /// <summary>Token scopes (<c>repository:NAME:pull</c>…) the request needs.</summary>
    public IReadOnlyList<string> Scopes { get; }

    public IReadOnlyList<string>? Accept { get; init; }

    /// <summary>A byte range (inclusive) for a <c>Range</c> header.</summary>
    public (long From, long To)? Range { get; init; }

    /// <summary>Creates the body for one attempt; called again for a retry only when <see cref="Replayable"/>.</summary>
    public Func<HttpContent>? Content { get; init; }

    /// <summary>Whether the request may be sent again (no body, a buffered body, or a body re-opened per attempt).</summary>
    public bool Replayable { get; init; } = true;

    /// <summary>
    /// Whether a redirect is followed (blob reads only: the distribution spec's 307 to storage). Other requests fail on a
    /// redirect, so a registry cannot point manifest, tag or upload requests at another host.
    /// </summary>
    public bool FollowRedirects { get; init; }

    /// <summary>Whether the body may take long to send, so the per-attempt header timeout does not apply.</summary>
    public bool LongBody { get; init; }

    /// <summary>The credentials the last attempt carried (to the registry or its token server), for error messages.</summary>
    public RegistryCredentials? SentCredentials { get; set; }

    public string Describe() => $"{Method} {Uri.GetLeftPart(UriPartial.Path)}";
}

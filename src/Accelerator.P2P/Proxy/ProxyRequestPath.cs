namespace Accelerator.P2P.Proxy;

/// <summary>What a <c>/v2/</c> request path asks for.</summary>
internal enum ProxyRequestKind
{
    /// <summary><c>/v2/</c>: the API version check.</summary>
    Ping,

    /// <summary><c>/v2/NAME/manifests/REFERENCE</c>.</summary>
    Manifest,

    /// <summary><c>/v2/NAME/blobs/DIGEST</c>.</summary>
    Blob,
}

/// <summary>
/// A parsed registry API path: <c>/v2/</c>, <c>/v2/NAME/manifests/REFERENCE</c> or <c>/v2/NAME/blobs/DIGEST</c>.
/// </summary>
/// <remarks>
/// Names follow the distribution spec (<c>[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*</c>,
/// at most 255 characters); a tag is <c>[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}</c>; a digest must parse strictly.
/// Anything else is not a path this proxy serves.
/// </remarks>
internal readonly record struct ProxyRequestPath(ProxyRequestKind Kind, string Repository, string Reference)
{
    /// <summary>The longest repository name the distribution spec allows.</summary>
    public const int MaxNameLength = 255;

    /// <summary>The longest tag the distribution spec allows.</summary>
    public const int MaxTagLength = 128;

    private const string Prefix = "/v2/";
    private const string ManifestsSegment = "/manifests/";
    private const string BlobsSegment = "/blobs/";

    /// <summary>The reference as a digest, when it is one.</summary>
    public Digest? Digest => Accelerator.Digest.TryParse(Reference, out var digest) ? digest : null;

    /// <summary>Parses <paramref name="path"/>; false for anything that is not one of the three forms.</summary>
    public static bool TryParse(ReadOnlySpan<char> path, out ProxyRequestPath request)
    {
        request = default;
        if (path.SequenceEqual("/v2") || path.SequenceEqual(Prefix))
        {
            request = new ProxyRequestPath(ProxyRequestKind.Ping, "", "");
            return true;
        }

        if (!path.StartsWith(Prefix, StringComparison.Ordinal) || path.Length > Prefix.Length + MaxNameLength + ManifestsSegment.Length + 200)
        {
            return false;
        }

        var rest = path[Prefix.Length..];
        // The name may itself hold "manifests" or "blobs" segments, so the last occurrence separates name and reference.
        int manifests = rest.LastIndexOf(ManifestsSegment, StringComparison.Ordinal);
        int blobs = rest.LastIndexOf(BlobsSegment, StringComparison.Ordinal);
        ProxyRequestKind kind;
        int split;
        int segmentLength;
        if (manifests > blobs)
        {
            (kind, split, segmentLength) = (ProxyRequestKind.Manifest, manifests, ManifestsSegment.Length);
        }
        else if (blobs >= 0)
        {
            (kind, split, segmentLength) = (ProxyRequestKind.Blob, blobs, BlobsSegment.Length);
        }
        else
        {
            return false;
        }

        var name = rest[..split];
        var reference = rest[(split + segmentLength)..];
        if (!IsValidName(name))
        {
            return false;
        }

        bool isDigest = Accelerator.Digest.TryParse(reference.ToString(), out _);
        if (kind == ProxyRequestKind.Blob ? !isDigest : !isDigest && !IsValidTag(reference))
        {
            return false;
        }

        request = new ProxyRequestPath(kind, name.ToString(), reference.ToString());
        return true;
    }

    /// <summary>Whether <paramref name="name"/> is a repository name of the distribution spec.</summary>
    public static bool IsValidName(ReadOnlySpan<char> name)
    {
        if (name.IsEmpty || name.Length > MaxNameLength)
        {
            return false;
        }

        foreach (var range in name.Split('/'))
        {
            if (!IsValidComponent(name[range]))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Whether <paramref name="tag"/> is a tag of the distribution spec.</summary>
    public static bool IsValidTag(ReadOnlySpan<char> tag)
    {
        if (tag.IsEmpty || tag.Length > MaxTagLength || tag[0] is '.' or '-')
        {
            return false;
        }

        foreach (char c in tag)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c is '_' or '.' or '-'))
            {
                return false;
            }
        }

        return true;
    }

    // A component: alphanumerics separated by one '.', one '_', two '_', or any number of '-'.
    private static bool IsValidComponent(ReadOnlySpan<char> component)
    {
        if (component.IsEmpty || !IsLowerAlphanumeric(component[0]) || !IsLowerAlphanumeric(component[^1]))
        {
            return false;
        }

        for (int i = 1; i < component.Length; i++)
        {
            char c = component[i];
            if (IsLowerAlphanumeric(c))
            {
                continue;
            }

            int start = i;
            while (i < component.Length && !IsLowerAlphanumeric(component[i]))
            {
                i++;
            }

            var separator = component[start..i];
            bool valid = separator is "." or "_" or "__" || !separator.ContainsAnyExcept('-');
            if (!valid)
            {
                return false;
            }
        }

        return true;
    }

    private static bool IsLowerAlphanumeric(char c) => char.IsAsciiDigit(c) || char.IsAsciiLetterLower(c);
}

using System.Buffers;
using System.Globalization;
using System.Net;
using System.Text;
using Accelerator.Oci.Registry;
using Accelerator.P2P.Protocol;
using Accelerator.Hosting.Metrics;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Primitives;

namespace Accelerator.P2P.Proxy;

public sealed partial class RegistryMirrorProxy
{
    private const string ApiVersionHeader = "Docker-Distribution-API-Version";
    private const string ContentDigestHeader = "Docker-Content-Digest";
    private const int MaxBlobRedirects = 3;

    // Response headers of a manifest answer worth handing back; hop-by-hop and framing headers are the server's own.
    private static readonly string[] PassedManifestHeaders = ["Content-Type", ContentDigestHeader, "ETag", "WWW-Authenticate", ApiVersionHeader, "Last-Modified"];

    private async Task HandleAsync(HttpContext context)
    {
        var request = context.Request;
        string path = request.Path.Value ?? "/";
        try
        {
            if (path == "/healthz")
            {
                context.Response.ContentType = "text/plain; charset=utf-8";
                await context.Response.WriteAsync("ok\n", context.RequestAborted).ConfigureAwait(false);
                return;
            }

            if (path == "/metrics")
            {
                await FormatMetrics(GetStatistics()).WriteToAsync(context.Response, context.RequestAborted).ConfigureAwait(false);
                return;
            }

            if (!ProxyRequestPath.TryParse(path, out var parsed))
            {
                await FailAsync(context, StatusCodes.Status404NotFound, path.StartsWith("/v2/", StringComparison.Ordinal) ? RegistryErrors.NameInvalid : RegistryErrors.Unsupported, $"not a registry API path this mirror serves: {Truncate(path)}").ConfigureAwait(false);
                return;
            }

            if (!HttpMethods.IsGet(request.Method) && !HttpMethods.IsHead(request.Method))
            {
                context.Response.Headers.Allow = "GET, HEAD";
                await FailAsync(context, StatusCodes.Status405MethodNotAllowed, RegistryErrors.Unsupported, "this mirror is read-only: GET and HEAD only").ConfigureAwait(false);
                return;
            }

            if (!TryGetUpstream(request, out string? registry, out string? problem, out bool denied))
            {
                if (parsed.Kind == ProxyRequestKind.Ping && problem is null)
                {
                    await WritePingAsync(context).ConfigureAwait(false);
                    return;
                }

                if (denied)
                {
                    await FailAsync(context, StatusCodes.Status403Forbidden, RegistryErrors.Denied, problem!).ConfigureAwait(false);
                    return;
                }

                await FailAsync(context, problem is null ? StatusCodes.Status404NotFound : StatusCodes.Status400BadRequest, problem is null ? RegistryErrors.NameUnknown : RegistryErrors.NameInvalid, problem ?? "no upstream registry: the request has no 'ns' parameter and the mirror has no default upstream").ConfigureAwait(false);
                return;
            }

            switch (parsed.Kind)
            {
                case ProxyRequestKind.Ping:
                    await PassThroughAsync(context, registry!, "", isManifest: false, expected: null).ConfigureAwait(false);
                    break;
                case ProxyRequestKind.Manifest:
                    Interlocked.Increment(ref _manifestRequests);
                    await PassThroughAsync(context, registry!, $"{parsed.Repository}/manifests/{parsed.Reference}", isManifest: true, parsed.Digest).ConfigureAwait(false);
                    break;
                default:
                    Interlocked.Increment(ref _blobRequests);
                    await ServeBlobAsync(context, registry!, parsed.Repository, parsed.Digest!.Value).ConfigureAwait(false);
                    break;
            }
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            // The client went away.
        }
        finally
        {
            LogRequest(request.Method, path, context.Response.StatusCode);
        }
    }

    private bool TryGetUpstream(HttpRequest request, out string? registry, out string? problem, out bool denied)
    {
        problem = null;
        denied = false;
        registry = _options.Upstream;
        if (request.Query.TryGetValue("ns", out StringValues ns) && ns.Count > 0)
        {
            string candidate = ns[0] ?? "";
            if (ns.Count > 1 || !UpstreamRegistry.IsValidHost(candidate))
            {
                problem = $"the 'ns' parameter must be one registry host[:port], not '{Truncate(ns.ToString())}'";
                registry = null;
                return false;
            }

            registry = candidate;
        }

        // The configured upstream is allowed; a registry a client names must be on the list when there is one (and on a
        // listener beyond loopback there always is).
        if (registry is not null && _options.AllowedUpstreams.Count > 0
            && !registry.Equals(_options.Upstream, StringComparison.OrdinalIgnoreCase)
            && !_options.AllowedUpstreams.Contains(registry, StringComparer.OrdinalIgnoreCase))
        {
            problem = $"this mirror does not serve registry '{Truncate(registry)}'";
            registry = null;
            denied = true;
            return false;
        }

        return registry is not null;
    }

    private static async Task WritePingAsync(HttpContext context)
    {
        context.Response.Headers[ApiVersionHeader] = "registry/2.0";
        context.Response.ContentType = "application/json; charset=utf-8";
        context.Response.ContentLength = 2;
        if (HttpMethods.IsGet(context.Request.Method))
        {
            await context.Response.WriteAsync("{}", context.RequestAborted).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Forwards a GET/HEAD to the upstream registry with the client's <c>Authorization</c> and <c>Accept</c> and returns its
    /// status, headers and (bounded) body. A manifest body is checked against the digest it was asked by, or the digest
    /// the registry states, before a byte of it is sent.
    /// </summary>
    private async Task PassThroughAsync(HttpContext context, string registry, string relative, bool isManifest, Digest? expected)
    {
        var request = context.Request;
        bool head = HttpMethods.IsHead(request.Method);
        var uri = new Uri(UpstreamRegistry.BaseUri(registry, _options.PlainHttpUpstream), relative);
        using var upstreamRequest = new HttpRequestMessage(head ? HttpMethod.Head : HttpMethod.Get, uri);
        CopyClientHeaders(request, upstreamRequest);
        HttpResponseMessage response;
        try
        {
            response = await _upstream.SendAsync(upstreamRequest, HttpCompletionOption.ResponseHeadersRead, context.RequestAborted).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException && !context.RequestAborted.IsCancellationRequested)
        {
            // The cause (refused, timed out, name unknown) stays in the log: told to a client it maps internal networks.
            LogUpstreamFailed(registry, relative, ex.Message);
            await FailAsync(context, StatusCodes.Status503ServiceUnavailable, RegistryErrors.Unavailable, $"upstream registry {registry} is unreachable").ConfigureAwait(false);
            return;
        }

        using (response)
        {
            if (!response.IsSuccessStatusCode)
            {
                await FailFromUpstreamAsync(context, registry, relative, response, isManifest).ConfigureAwait(false);
                return;
            }

            if (!isManifest)
            {
                // A ping: the registry is there; its body is not the client's business.
                await WritePingAsync(context).ConfigureAwait(false);
                return;
            }

            long limit = _options.MaxManifestBytes;
            byte[] body = [];
            if (!head)
            {
                byte[]? bounded = await ReadBoundedAsync(response.Content, limit, context.RequestAborted).ConfigureAwait(false);
                if (bounded is null)
                {
                    await FailAsync(context, StatusCodes.Status502BadGateway, RegistryErrors.ManifestInvalid, $"upstream {registry} answered a body over the {limit}-byte limit").ConfigureAwait(false);
                    return;
                }

                body = bounded;

                if (!IsBodyDigestRight(body, expected, response, out string? mismatch))
                {
                    LogUpstreamFailed(registry, relative, mismatch!);
                    await FailAsync(context, StatusCodes.Status502BadGateway, RegistryErrors.ManifestInvalid, mismatch!).ConfigureAwait(false);
                    return;
                }
            }

            var outgoing = context.Response;
            outgoing.StatusCode = (int)response.StatusCode;
            foreach (string name in PassedManifestHeaders)
            {
                if (response.Headers.TryGetValues(name, out var values) || response.Content.Headers.TryGetValues(name, out values))
                {
                    outgoing.Headers[name] = new StringValues([.. values]);
                }
            }

            if (!outgoing.Headers.ContainsKey(ApiVersionHeader))
            {
                outgoing.Headers[ApiVersionHeader] = "registry/2.0";
            }

            if (head)
            {
                if (response.Content.Headers.ContentLength is { } length)
                {
                    outgoing.ContentLength = length;
                }

                return;
            }

            outgoing.ContentLength = body.Length;
            await outgoing.Body.WriteAsync(body, context.RequestAborted).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Answers an upstream error or redirect with the proxy's own registry-style error: the status for a client error
    /// (with the registry's challenge on 401, so the client can authenticate), 502 for a server error or a redirect
    /// (not followed), and never the upstream's body, which may come from a host the client should not read.
    /// </summary>
    private async Task FailFromUpstreamAsync(HttpContext context, string registry, string relative, HttpResponseMessage response, bool isManifest)
    {
        int upstream = (int)response.StatusCode;
        LogUpstreamFailed(registry, relative, $"answered {upstream}");
        if (upstream == StatusCodes.Status401Unauthorized && response.Headers.WwwAuthenticate.Count > 0)
        {
            context.Response.Headers.WWWAuthenticate = new StringValues([.. response.Headers.WwwAuthenticate.Select(h => h.ToString())]);
        }

        (int status, string code, string message) = upstream switch
        {
            StatusCodes.Status401Unauthorized => (upstream, RegistryErrors.Unauthorized, "authentication required"),
            StatusCodes.Status403Forbidden => (upstream, RegistryErrors.Denied, "requested access to the resource is denied"),
            StatusCodes.Status404NotFound => (upstream, isManifest ? RegistryErrors.ManifestUnknown : RegistryErrors.NameUnknown, isManifest ? "manifest unknown" : "not found"),
            StatusCodes.Status429TooManyRequests => (upstream, RegistryErrors.TooManyRequests, "too many requests"),
            >= 300 and < 400 => (StatusCodes.Status502BadGateway, RegistryErrors.Unavailable, $"upstream registry {registry} redirected the request; the mirror does not follow it"),
            >= 400 and < 500 => (upstream, RegistryErrors.Unsupported, $"upstream registry {registry} refused the request ({upstream})"),
            _ => (StatusCodes.Status502BadGateway, RegistryErrors.Unavailable, $"upstream registry {registry} failed ({upstream})"),
        };
        await FailAsync(context, status, code, message).ConfigureAwait(false);
    }

    private static bool IsBodyDigestRight(byte[] body, Digest? expected, HttpResponseMessage response, out string? problem)
    {
        problem = null;
        if (expected is null && response.Headers.TryGetValues(ContentDigestHeader, out var stated) && Digest.TryParse(stated.FirstOrDefault() ?? "", out var statedDigest))
        {
            expected = statedDigest;
        }

        if (expected is not { } digest)
        {
            return true;
        }

        if (!digest.Algorithm.Equals("sha256", StringComparison.Ordinal))
        {
            // Only sha256 can be checked here; the client checks what it asked for.
            return true;
        }

        if (Digest.Compute(body) == digest)
        {
            return true;
        }

        problem = $"the upstream manifest does not match {digest}";
        return false;
    }

    private async Task ServeBlobAsync(HttpContext context, string registry, string repository, Digest digest)
    {
        var request = context.Request;
        long size;
        if (_options.AuthorizeBlobReads)
        {
            long? authorized = await AuthorizeBlobAsync(context, registry, repository, digest).ConfigureAwait(false);
            if (authorized is null)
            {
                return;
            }

            size = authorized.Value;
        }
        else
        {
            try
            {
                size = await SourceFor(registry, ClientCredential(request)).GetSizeAsync(new BlobAddress(repository, digest), context.RequestAborted).ConfigureAwait(false);
            }
            catch (BlobNotFoundException)
            {
                await FailAsync(context, StatusCodes.Status404NotFound, RegistryErrors.BlobUnknown, "blob unknown to registry").ConfigureAwait(false);
                return;
            }
            catch (Exception ex) when (IsRefusal(ex))
            {
                await RefuseAsync(context, registry, repository, digest).ConfigureAwait(false);
                return;
            }
            catch (Exception ex) when (ex is IOException or HttpRequestException)
            {
                LogUpstreamFailed(registry, $"{repository}/blobs/{digest}", ex.Message);
                await FailAsync(context, StatusCodes.Status503ServiceUnavailable, RegistryErrors.Unavailable, $"the blob's size could not be read from {registry}").ConfigureAwait(false);
                return;
            }
        }

        var address = new BlobAddress(repository, digest, size);
        var response = context.Response;
        long offset = 0;
        long length = size;
        bool ranged = false;
        if (HttpMethods.IsGet(request.Method) && request.Headers.Range is { Count: 1 } rangeHeader && ByteRange.TryParse(rangeHeader[0], out var range))
        {
            if (!range.TryResolve(size, out offset, out length))
            {
                response.Headers.ContentRange = $"bytes */{size.ToString(CultureInfo.InvariantCulture)}";
                await FailAsync(context, StatusCodes.Status416RangeNotSatisfiable, RegistryErrors.RangeInvalid, $"the range '{Truncate(rangeHeader[0] ?? "")}' is outside the {size}-byte blob").ConfigureAwait(false);
                return;
            }

            ranged = true;
        }

        response.Headers[ApiVersionHeader] = "registry/2.0";
        response.Headers[ContentDigestHeader] = digest.ToString();
        response.Headers.ETag = $"\"{digest}\"";
        response.Headers.AcceptRanges = "bytes";
        response.ContentType = "application/octet-stream";
        if (HttpMethods.IsHead(request.Method))
        {
            response.ContentLength = size;
            return;
        }

        await _blobSlots.WaitAsync(context.RequestAborted).ConfigureAwait(false);
        try
        {
            Stream stream;
            try
            {
                var source = SourceFor(registry, ClientCredential(request));
                stream = ranged
                    ? await source.OpenRangeAsync(address, offset, length, context.RequestAborted).ConfigureAwait(false)
                    : await source.OpenReadAsync(address, context.RequestAborted).ConfigureAwait(false);
            }
            // Fixed texts: an exception's message can carry what an upstream (or a host it redirected to) answered.
            catch (BlobNotFoundException)
            {
                await FailAsync(context, StatusCodes.Status404NotFound, RegistryErrors.BlobUnknown, "blob unknown to registry").ConfigureAwait(false);
                return;
            }
            catch (Exception ex) when (IsRefusal(ex))
            {
                // The scheduler's access check (or the registry, on a direct read) refused the client's credential: an
                // authorisation answer, never a 500.
                LogBlobFailed(address.ToString(), ex.Message);
                await RefuseAsync(context, registry, repository, digest).ConfigureAwait(false);
                return;
            }
            catch (DigestMismatchException ex)
            {
                LogBlobFailed(address.ToString(), ex.Message);
                await FailAsync(context, StatusCodes.Status502BadGateway, RegistryErrors.DigestInvalid, $"the bytes read do not match {digest}").ConfigureAwait(false);
                return;
            }
            catch (Exception ex) when (ex is IOException or HttpRequestException or InvalidOperationException)
            {
                LogBlobFailed(address.ToString(), ex.Message);
                await FailAsync(context, StatusCodes.Status503ServiceUnavailable, RegistryErrors.Unavailable, $"the blob could not be read from peers or {registry}").ConfigureAwait(false);
                return;
            }

            await using (stream.ConfigureAwait(false))
            {
                if (ranged)
                {
                    response.StatusCode = StatusCodes.Status206PartialContent;
                    Interlocked.Increment(ref _rangeRequests);
                    response.Headers.ContentRange = string.Create(CultureInfo.InvariantCulture, $"bytes {offset}-{offset + length - 1}/{size}");
                }

                response.ContentLength = length;
                await CopyExactlyAsync(context, stream, length, address).ConfigureAwait(false);
            }
        }
        finally
        {
            _blobSlots.Release();
        }
    }

    /// <summary>
    /// Asks the upstream registry, with the client's credentials, whether the client may read the blob (HEAD). Returns
    /// the size, or null once the refusal has been written.
    /// </summary>
    private async Task<long?> AuthorizeBlobAsync(HttpContext context, string registry, string repository, Digest digest)
    {
        string authorization = context.Request.Headers.Authorization.ToString();
        var key = new AuthorizationKey(registry, repository, digest, authorization);
        var now = _time.GetUtcNow();
        if (_authorizations.TryGetValue(key, out var cached) && cached.Expires > now)
        {
            return cached.Size;
        }

        var uri = new Uri(UpstreamRegistry.BaseUri(registry, _options.PlainHttpUpstream), $"{repository}/blobs/{digest}");
        using var upstreamRequest = new HttpRequestMessage(HttpMethod.Head, uri);
        CopyClientHeaders(context.Request, upstreamRequest);
        try
        {
            using var response = await SendBlobHeadAsync(upstreamRequest, context.RequestAborted).ConfigureAwait(false);
            if (response.IsSuccessStatusCode && response.Content.Headers.ContentLength is { } size and >= 0)
            {
                if (_authorizations.Count > 100_000)
                {
                    _authorizations.Clear();
                }

                _authorizations[key] = new AuthorizationEntry(size, now + _options.AuthorizationCacheDuration);
                return size;
            }

            if (response.Headers.WwwAuthenticate.Count > 0)
            {
                context.Response.Headers.WWWAuthenticate = new StringValues([.. response.Headers.WwwAuthenticate.Select(h => h.ToString())]);
            }

            (int status, string code) = response.StatusCode switch
            {
                HttpStatusCode.Unauthorized => (StatusCodes.Status401Unauthorized, "UNAUTHORIZED"),
                HttpStatusCode.Forbidden => (StatusCodes.Status403Forbidden, "DENIED"),
                HttpStatusCode.NotFound => (StatusCodes.Status404NotFound, RegistryErrors.BlobUnknown),
                _ when response.IsSuccessStatusCode => (StatusCodes.Status502BadGateway, RegistryErrors.SizeInvalid),
                _ => (StatusCodes.Status502BadGateway, RegistryErrors.Unavailable),
            };
            await FailAsync(context, status, code, $"upstream {registry} answered {(int)response.StatusCode} for {repository}@{digest}").ConfigureAwait(false);
            return null;
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException && !context.RequestAborted.IsCancellationRequested)
        {
            LogUpstreamFailed(registry, $"{repository}/blobs/{digest}", ex.Message);
            await FailAsync(context, StatusCodes.Status503ServiceUnavailable, RegistryErrors.Unavailable, $"upstream registry {registry} is unreachable to authorize the read").ConfigureAwait(false);
            return null;
        }
    }

    /// <summary>
    /// Sends a blob HEAD and follows the registry's redirect to its storage (distribution spec: a blob request may be
    /// answered 307) by hand: at most <see cref="MaxBlobRedirects"/> hops, http(s) only, never from HTTPS to plain HTTP,
    /// never to a loopback or link-local address, and without the client's headers (the storage URL is signed). Other
    /// requests never follow redirects.
    /// </summary>
    private async Task<HttpResponseMessage> SendBlobHeadAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var response = await _upstream.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
        var uri = request.RequestUri!;
        for (int hop = 0; hop < MaxBlobRedirects && (int)response.StatusCode is 301 or 302 or 303 or 307 or 308 && response.Headers.Location is { } location; hop++)
        {
            var target = location.IsAbsoluteUri ? location : new Uri(uri, location);
            if (target.Scheme is not ("http" or "https") || (uri.Scheme == Uri.UriSchemeHttps && target.Scheme != Uri.UriSchemeHttps))
            {
                break;
            }

            response.Dispose();
            using var next = new HttpRequestMessage(HttpMethod.Head, target);
            RedirectTargetGuard.MarkAsRedirect(next);
            response = await _upstream.SendAsync(next, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
            uri = target;
        }

        return response;
    }

    /// <summary>
    /// Answers a read the P2P side refused: with the registry's own refusal and challenge (<c>WWW-Authenticate</c>) when
    /// the registry refuses the client's credential too, so the client can authenticate; 403 otherwise.
    /// </summary>
    private async Task RefuseAsync(HttpContext context, string registry, string repository, Digest digest)
    {
        _authorizations.TryRemove(new AuthorizationKey(registry, repository, digest, context.Request.Headers.Authorization.ToString()), out _);
        if (await AuthorizeBlobAsync(context, registry, repository, digest).ConfigureAwait(false) is null)
        {
            return; // the registry's refusal is written
        }

        await FailAsync(context, StatusCodes.Status403Forbidden, "DENIED", $"the P2P scheduler refused to share {repository}@{digest} from {registry} (is the registry trusted by the scheduler?)").ConfigureAwait(false);
    }

    /// <summary>A refusal of the client's credential: by the P2P scheduler's access check, or by the registry itself.</summary>
    private static bool IsRefusal(Exception ex)
        => ex is UnauthorizedAccessException
            || ex is Accelerator.Oci.Registry.RegistryException { StatusCode: HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden };

    /// <summary>
    /// The client's credential as the P2P side takes it: <c>Basic</c> as user and password (so the scheduler's check can
    /// also fetch a token where the registry wants one), any other scheme (<c>Bearer</c> from the registry's token
    /// server, as containerd sends it after following the challenge) as the header value.
    /// </summary>
    internal static RegistryCredential? ClientCredential(HttpRequest request)
    {
        string? authorization = request.Headers.Authorization.Count == 1 ? request.Headers.Authorization[0] : null;
        if (string.IsNullOrWhiteSpace(authorization) || authorization.Length > 8192)
        {
            return null;
        }

        const string Basic = "Basic ";
        if (authorization.StartsWith(Basic, StringComparison.OrdinalIgnoreCase))
        {
            try
            {
                string decoded = Encoding.UTF8.GetString(Convert.FromBase64String(authorization[Basic.Length..].Trim()));
                int colon = decoded.IndexOf(':', StringComparison.Ordinal);
                if (colon > 0)
                {
                    return new RegistryCredential { Username = decoded[..colon], Password = decoded[(colon + 1)..] };
                }
            }
            catch (FormatException)
            {
                // Not base64: passed on as is, and the registry says what it thinks of it.
            }
        }

        return new RegistryCredential { Authorization = authorization };
    }

    private async Task CopyExactlyAsync(HttpContext context, Stream stream, long length, BlobAddress address)
    {
        byte[] buffer = ArrayPool<byte>.Shared.Rent(256 * 1024);
        long sent = 0;
        try
        {
            while (sent < length)
            {
                int n = await stream.ReadAsync(buffer.AsMemory(0, (int)Math.Min(buffer.Length - 1, length - sent)), context.RequestAborted).ConfigureAwait(false);
                if (n == 0)
                {
                    throw new EndOfStreamException($"the source ended after {sent} of {length} bytes");
                }

                if (sent + n == length)
                {
                    // Hold the last bytes back until the source has reached its end: a verifying source checks the
                    // digest on that read, and a client that got every byte would take a wrong blob as complete.
                    int extra = await stream.ReadAsync(buffer.AsMemory(n, 1), context.RequestAborted).ConfigureAwait(false);
                    if (extra != 0)
                    {
                        throw new IOException($"the source holds more than the {length} bytes asked for");
                    }
                }

                await context.Response.Body.WriteAsync(buffer.AsMemory(0, n), context.RequestAborted).ConfigureAwait(false);
                sent += n;
                Interlocked.Add(ref _bytesServed, n);
            }
        }
        catch (Exception ex) when (ex is IOException or HttpRequestException or InvalidOperationException or UnauthorizedAccessException && !context.RequestAborted.IsCancellationRequested)
        {
            // Headers (and a Content-Length) are out: cutting the connection is the only way to tell the client the
            // body is not whole. It never receives a complete wrong blob.
            LogBlobFailed(address.ToString(), ex.Message);
            if (!context.Response.HasStarted)
            {
                // Nothing sent yet (a small blob is held back whole): a proper error instead of a reset connection.
                context.Response.Headers.Remove(ContentDigestHeader);
                context.Response.Headers.ContentRange = default;
                if (IsRefusal(ex))
                {
                    await FailAsync(context, StatusCodes.Status403Forbidden, "DENIED", "the read was refused part-way (the P2P scheduler or the registry refused the credential)").ConfigureAwait(false);
                    return;
                }

                await FailAsync(context, StatusCodes.Status502BadGateway, ex is DigestMismatchException ? RegistryErrors.DigestInvalid : RegistryErrors.Unavailable, ex is DigestMismatchException ? $"the bytes read do not match {address.Digest}" : "the blob could not be read whole").ConfigureAwait(false);
                return;
            }

            Interlocked.Increment(ref _errors);
            context.Abort();
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private static void CopyClientHeaders(HttpRequest from, HttpRequestMessage to)
    {
        if (from.Headers.Authorization is { Count: > 0 } authorization)
        {
            to.Headers.TryAddWithoutValidation("Authorization", (IEnumerable<string>)authorization!);
        }

        if (from.Headers.Accept is { Count: > 0 } accept)
        {
            to.Headers.TryAddWithoutValidation("Accept", (IEnumerable<string>)accept!);
        }

        if (from.Headers.UserAgent is { Count: > 0 } agent)
        {
            to.Headers.TryAddWithoutValidation("User-Agent", (IEnumerable<string>)agent!);
        }
    }

    private static async Task<byte[]?> ReadBoundedAsync(HttpContent content, long limit, CancellationToken cancellationToken)
    {
        if (content.Headers.ContentLength > limit)
        {
            return null;
        }

        await using var stream = await content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        using var buffer = new MemoryStream();
        byte[] chunk = new byte[16 * 1024];
        while (true)
        {
            int n = await stream.ReadAsync(chunk, cancellationToken).ConfigureAwait(false);
            if (n == 0)
            {
                return buffer.ToArray();
            }

            if (buffer.Length + n > limit)
            {
                return null;
            }

            buffer.Write(chunk, 0, n);
        }
    }

    private Task FailAsync(HttpContext context, int status, string code, string message)
    {
        Interlocked.Increment(ref _errors);
        return RegistryErrors.WriteAsync(context, status, code, message);
    }

    private static string Truncate(string text) => text.Length <= 200 ? text : text[..200] + "…";

    private static PrometheusText FormatMetrics(RegistryMirrorProxyStatistics statistics) => new PrometheusText()
        .Counter("accel_proxy_manifest_requests_total", "Manifest requests passed through to the upstream registry.", statistics.ManifestRequests)
        .Counter("accel_proxy_blob_requests_total", "Blob requests (GET and HEAD).", statistics.BlobRequests)
        .Counter("accel_proxy_range_requests_total", "Blob GETs answered with one byte range.", statistics.RangeRequests)
        .Counter("accel_proxy_served_bytes_total", "Blob bytes sent to clients.", statistics.BytesServed)
        .Counter("accel_proxy_errors_total", "Requests answered with an error or cut short.", statistics.Errors);
}

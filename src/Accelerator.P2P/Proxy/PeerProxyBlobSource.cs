using System.Net;
using System.Net.Http.Headers;

namespace Accelerator.P2P.Proxy;

/// <summary>
/// The blobs of one registry read through a peer's registry-mirror proxy (<c>accel p2p peer --proxy URL</c>), the way
/// containerd reads them: <c>GET URL/v2/REPO/blobs/DIGEST?ns=REGISTRY</c>, whole (verified against the digest while
/// streaming) or as one byte range. The peer fetches the blob through P2P; only it talks to the scheduler.
/// </summary>
public sealed class PeerProxyBlobSource : IBlobSource, IBlobExistence, IDisposable
{
    private readonly HttpClient _http;
    private readonly bool _ownsClient;

    /// <summary>Creates the source for <paramref name="registry"/> (<c>host[:port]</c>) through the proxy at <paramref name="proxy"/>.</summary>
    public PeerProxyBlobSource(Uri proxy, string registry, HttpClient? http = null)
    {
        ArgumentNullException.ThrowIfNull(proxy);
        ArgumentException.ThrowIfNullOrEmpty(registry);
        if (!proxy.IsAbsoluteUri || (proxy.Scheme != Uri.UriSchemeHttp && proxy.Scheme != Uri.UriSchemeHttps))
        {
            throw new ArgumentException($"The peer proxy must be an absolute http(s) URL, not '{proxy}'.", nameof(proxy));
        }

        Proxy = proxy.AbsoluteUri.EndsWith('/') ? proxy : new Uri(proxy.AbsoluteUri + "/");
        Registry = registry;
        _ownsClient = http is null;
        _http = http ?? new HttpClient(new SocketsHttpHandler { AllowAutoRedirect = false }) { Timeout = Timeout.InfiniteTimeSpan };
    }

    /// <summary>The proxy's base URL.</summary>
    public Uri Proxy { get; }

    /// <summary>The registry whose blobs are read, passed as <c>ns</c>.</summary>
    public string Registry { get; }

    /// <inheritdoc />
    public async ValueTask<long> GetSizeAsync(BlobAddress blob, CancellationToken cancellationToken = default)
    {
        if (blob.HasSize)
        {
            return blob.Size;
        }

        using var request = new HttpRequestMessage(HttpMethod.Head, BlobUri(blob));
        using var response = await SendAsync(request, blob, cancellationToken).ConfigureAwait(false);
        return response.Content.Headers.ContentLength ?? throw new IOException($"Peer proxy {Proxy} sent no size for {blob}.");
    }

    /// <inheritdoc />
    public async ValueTask<bool> ExistsAsync(BlobAddress blob, CancellationToken cancellationToken = default)
    {
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Head, BlobUri(blob));
            using var response = await SendAsync(request, blob, cancellationToken).ConfigureAwait(false);
            return !blob.HasSize || response.Content.Headers.ContentLength == blob.Size;
        }
        catch (BlobNotFoundException)
        {
            return false;
        }
    }

    /// <inheritdoc />
    public async Task<Stream> OpenReadAsync(BlobAddress blob, CancellationToken cancellationToken = default)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, BlobUri(blob));
        var response = await SendAsync(request, blob, cancellationToken).ConfigureAwait(false);
        try
        {
            // A known size is what the bytes are held to; a proxy offering more is caught by the verifying stream.
            long size = blob.HasSize ? blob.Size : response.Content.Headers.ContentLength ?? -1;

            var body = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
            // The proxy cuts a whole read short when its own check of the blob fails: the verifying stream then reports the
            // short body as a digest mismatch, like any other source.
            return new VerifyingStream(new OwningStream(body, response, request, endOnCutShort: true), blob.Digest, size, $"peer proxy {Proxy.Authority}");
        }
        catch
        {
            response.Dispose();
            request.Dispose();
            throw;
        }
    }

    /// <inheritdoc />
    public async Task<Stream> OpenRangeAsync(BlobAddress blob, long offset, long length, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        if (blob.HasSize)
        {
            length = Math.Min(length, Math.Max(0, blob.Size - offset));
        }

        if (length == 0)
        {
            return Stream.Null;
        }

        var request = new HttpRequestMessage(HttpMethod.Get, BlobUri(blob));
        request.Headers.Range = new RangeHeaderValue(offset, offset + length - 1);
        HttpResponseMessage response;
        try
        {
            response = await SendAsync(request, blob, cancellationToken, rangeNotSatisfiableIsEnd: true).ConfigureAwait(false);
        }
        catch (EndOfStreamException)
        {
            request.Dispose();
            return Stream.Null;
        }

        try
        {
            var range = response.Content.Headers.ContentRange;
            long? sent = response.Content.Headers.ContentLength;
            if (response.StatusCode != HttpStatusCode.PartialContent || range is null || range.From != offset || sent is null || sent > length)
            {
                throw new IOException($"Peer proxy {Proxy} answered a range read of {blob} at {offset} with {(int)response.StatusCode} {range}.");
            }

            var body = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
            return new OwningStream(body, response, request);
        }
        catch
        {
            response.Dispose();
            request.Dispose();
            throw;
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        if (_ownsClient)
        {
            _http.Dispose();
        }
    }

    private Uri BlobUri(BlobAddress blob)
        => new(Proxy, $"v2/{blob.Repository}/blobs/{blob.Digest}?ns={Uri.EscapeDataString(Registry)}");

    private async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, BlobAddress blob, CancellationToken cancellationToken, bool rangeNotSatisfiableIsEnd = false)
    {
        var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
        if (response.IsSuccessStatusCode)
        {
            return response;
        }

        if (response.StatusCode == HttpStatusCode.BadGateway && request.Method == HttpMethod.Get)
        {
            // The proxy's own check of the blob failed before it sent a byte (registry error code DIGEST_INVALID).
            string error = await ReadErrorAsync(response, cancellationToken).ConfigureAwait(false);
            if (error.Contains("\"DIGEST_INVALID\"", StringComparison.Ordinal))
            {
                response.Dispose();
                throw new DigestMismatchException(blob.Digest, "content the peer could not verify", $"peer proxy {Proxy.Authority}");
            }
        }

        response.Dispose();
        throw response.StatusCode switch
        {
            HttpStatusCode.NotFound => new BlobNotFoundException($"blob {blob}", $"peer proxy {Proxy.Authority}"),
            HttpStatusCode.RequestedRangeNotSatisfiable when rangeNotSatisfiableIsEnd => new EndOfStreamException(),
            _ => new IOException($"Peer proxy {Proxy.Authority} answered {(int)response.StatusCode} for {blob}."),
        };
    }

    private static async Task<string> ReadErrorAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        try
        {
            await using var body = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
            byte[] buffer = new byte[16 * 1024];
            int length = await body.ReadAtLeastAsync(buffer, buffer.Length, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false);
            return System.Text.Encoding.UTF8.GetString(buffer, 0, length);
        }
        catch (IOException)
        {
            return "";
        }
    }

    /// <summary>
    /// A response body that disposes its response and request with it. For whole reads (<paramref name="endOnCutShort"/>)
    /// a body the proxy cut short (it does so when its own check of the blob fails) ends the stream early, so the
    /// verifying stream above reports it as a digest mismatch: the bytes received are not the blob.
    /// </summary>
    private sealed class OwningStream(Stream inner, HttpResponseMessage response, HttpRequestMessage request, bool endOnCutShort = false) : ReadOnlyStream
    {
        public override int Read(Span<byte> buffer)
        {
            try
            {
                return inner.Read(buffer);
            }
            catch (IOException) when (endOnCutShort)
            {
                return 0;
            }
        }

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            try
            {
                return await inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
            }
            catch (IOException) when (endOnCutShort && !cancellationToken.IsCancellationRequested)
            {
                return 0;
            }
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                inner.Dispose();
                response.Dispose();
                request.Dispose();
            }

            base.Dispose(disposing);
        }
    }
}

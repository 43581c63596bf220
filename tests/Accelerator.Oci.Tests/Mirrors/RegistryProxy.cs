using System.Collections.Concurrent;
using System.Net.Http.Headers;
using Accelerator.Testing.Registry;
using Microsoft.AspNetCore.Http;

namespace Accelerator.Oci.Tests.Mirrors;

/// <summary>One request a <see cref="RegistryProxy"/> saw.</summary>
public sealed record ProxiedRequest(string Method, string Path, string? Range, string? Authorization, string? MirrorToken = null)
{
    public bool IsBlobGet => Method == "GET" && Path.Contains("/blobs/sha256:", StringComparison.Ordinal);

    public bool IsManifest => Path.Contains("/manifests/", StringComparison.Ordinal);

    /// <summary>A manifest asked for by tag rather than digest.</summary>
    public bool IsTagRequest => IsManifest && !Path.Contains("/manifests/sha256:", StringComparison.Ordinal);
}

/// <summary>
/// A test double in front of a real registry (for what no real registry does: count what it is asked, flip bytes,
/// stall, die mid-transfer, demand credentials, redirect to another host). It speaks the registry protocol by
/// forwarding every request to the real registry and streaming the answer back, changed only as configured.
/// </summary>
public sealed class RegistryProxy : IAsyncDisposable
{
    private const int Chunk = 64 * 1024;

    private readonly HttpClient _upstream = new(new SocketsHttpHandler { AllowAutoRedirect = false, AutomaticDecompression = System.Net.DecompressionMethods.None });
    private readonly Uri _target;
    private LoopbackHttpServer _server = null!;
    private long _blobBytes;

    private RegistryProxy(Uri target) => _target = target;

    /// <summary>Every request seen, in order.</summary>
    public ConcurrentQueue<ProxiedRequest> Requests { get; } = new();

    /// <summary>The proxy as a registry host key.</summary>
    public string Host => _server.Host;

    public Uri Url => _server.Url;

    /// <summary>Blob body bytes sent to clients so far.</summary>
    public long BlobBytesSent => Interlocked.Read(ref _blobBytes);

    /// <summary>Answer every request with 503.</summary>
    public volatile bool Failing;

    /// <summary>Flip one bit of every blob body (the 1000th byte sent, or the last of a shorter first chunk).</summary>
    public volatile bool CorruptBlobs;

    /// <summary>Send blob headers and a first chunk, then nothing until the client gives up (bodies of one chunk are sent whole).</summary>
    public volatile bool StallBlobs;

    /// <summary>End blob bodies cleanly (chunked, no length) after this many bytes: a truncated answer (0: never).</summary>
    public long TruncateBlobsAfter;

    /// <summary>Pause between 64 KiB chunks of blob bodies (0: none).</summary>
    public int ThrottleMilliseconds;

    /// <summary>Demand this Basic authorization ("user:password").</summary>
    public string? RequireBasic;

    /// <summary>Redirect blob GETs (307) to the same path on this base URL.</summary>
    public Uri? RedirectBlobsTo;

    public static async Task<RegistryProxy> StartAsync(Uri target, string address = "127.0.0.1")
    {
        var proxy = new RegistryProxy(target);
        proxy._server = await LoopbackHttpServer.StartAsync(proxy.HandleAsync, address);
        return proxy;
    }

    public IReadOnlyList<ProxiedRequest> Snapshot() => [.. Requests];

    public int BlobGets => Requests.Count(r => r.IsBlobGet);

    public async ValueTask DisposeAsync()
    {
        await _server.DisposeAsync();
        _upstream.Dispose();
    }

    private async Task HandleAsync(HttpContext context)
    {
        var request = context.Request;
        string path = request.Path.Value ?? "/";
        string? authorization = request.Headers.Authorization.FirstOrDefault();
        var seen = new ProxiedRequest(request.Method, path, request.Headers.Range.FirstOrDefault(), authorization, request.Headers["X-Mirror-Token"].FirstOrDefault());
        Requests.Enqueue(seen);
        if (Failing)
        {
            context.Response.StatusCode = 503;
            return;
        }

        if (RequireBasic is { } basic && authorization != "Basic " + Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes(basic)))
        {
            context.Response.StatusCode = 401;
            context.Response.Headers.WWWAuthenticate = "Basic realm=\"proxy\"";
            return;
        }

        if (seen.IsBlobGet && RedirectBlobsTo is { } redirect)
        {
            context.Response.StatusCode = 307;
            context.Response.Headers.Location = new Uri(redirect, path.TrimStart('/') + request.QueryString).ToString();
            return;
        }

        using var forward = new HttpRequestMessage(new HttpMethod(request.Method), new Uri(_target, path.TrimStart('/') + request.QueryString));
        foreach (var (name, values) in request.Headers)
        {
            if (name is "Accept" or "Range" or "User-Agent")
            {
                forward.Headers.TryAddWithoutValidation(name, (IEnumerable<string>)values!);
            }
        }

        HttpResponseMessage response;
        try
        {
            response = await _upstream.SendAsync(forward, HttpCompletionOption.ResponseHeadersRead, context.RequestAborted);
        }
        catch (Exception) when (!context.RequestAborted.IsCancellationRequested)
        {
            // The registry behind is gone: so is this host.
            context.Abort();
            return;
        }

        using (response)
        {
            context.Response.StatusCode = (int)response.StatusCode;
            Copy(response.Headers, context.Response.Headers);
            Copy(response.Content.Headers, context.Response.Headers);
            context.Response.Headers.Remove("Transfer-Encoding");
            if (TruncateBlobsAfter > 0 && seen.IsBlobGet)
            {
                context.Response.Headers.ContentLength = null;
            }
            if (request.Method == "HEAD")
            {
                return;
            }

            bool blob = seen.IsBlobGet && response.IsSuccessStatusCode;
            try
            {
                await using var body = await response.Content.ReadAsStreamAsync(context.RequestAborted);
                await SendAsync(body, context, blob, response.Content.Headers.ContentLength ?? long.MaxValue);
            }
            catch (Exception) when (!context.RequestAborted.IsCancellationRequested)
            {
                context.Abort();
            }
        }
    }

    private async Task SendAsync(Stream body, HttpContext context, bool blob, long length)
    {
        byte[] buffer = new byte[Chunk];
        long sent = 0;
        bool corrupted = false;
        while (true)
        {
            int n = await body.ReadAsync(buffer, context.RequestAborted);
            if (n == 0)
            {
                return;
            }

            if (blob)
            {
                if (TruncateBlobsAfter > 0 && sent + n > TruncateBlobsAfter)
                {
                    n = (int)Math.Max(0, TruncateBlobsAfter - sent);
                    length = sent + n;
                }

                if (CorruptBlobs && !corrupted)
                {
                    long at = Math.Min(999, sent + n - 1) - sent;
                    if (at >= 0 && at < n)
                    {
                        buffer[at] ^= 0x10;
                        corrupted = true;
                    }
                }

                Interlocked.Add(ref _blobBytes, n);
            }

            await context.Response.Body.WriteAsync(buffer.AsMemory(0, n), context.RequestAborted);
            await context.Response.Body.FlushAsync(context.RequestAborted);
            sent += n;
            if (sent >= length)
            {
                return;
            }

            if (blob && StallBlobs && sent < length)
            {
                await Task.Delay(Timeout.Infinite, context.RequestAborted);
            }

            if (blob && ThrottleMilliseconds > 0)
            {
                await Task.Delay(ThrottleMilliseconds, context.RequestAborted);
            }
        }
    }

    private static void Copy(HttpHeaders from, IHeaderDictionary to)
    {
        foreach (var (name, values) in from)
        {
            to[name] = values.ToArray();
        }
    }
}

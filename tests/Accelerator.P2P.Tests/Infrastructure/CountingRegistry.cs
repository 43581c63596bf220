using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using Accelerator.Testing.Registry;
using Microsoft.AspNetCore.Http;

namespace Accelerator.P2P.Tests.Infrastructure;

/// <summary>
/// A test double speaking the registry's blob API (<c>GET /v2/</c>, <c>HEAD</c>/<c>GET /v2/REPO/blobs/DIGEST</c> with
/// single <c>Range</c> requests, basic auth when users are set) that counts every body byte it serves, and can hold
/// content that does not match its digest (a registry serving bad bytes) and answer slowly. docker-registry cannot do
/// either, and its access log does not count ranged bytes.
/// </summary>
internal sealed class CountingRegistry : IAsyncDisposable
{
    private readonly ConcurrentDictionary<string, byte[]> _blobs = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _users;
    private LoopbackHttpServer _server = null!;
    private long _bytesServed;
    private long _gets;

    private CountingRegistry(Dictionary<string, string> users) => _users = users;

    /// <summary>The <c>host:port</c>.</summary>
    public string Host => _server.Host;

    /// <summary>Body bytes served by GETs.</summary>
    public long BytesServed => Interlocked.Read(ref _bytesServed);

    /// <summary>Blob GETs answered.</summary>
    public long Gets => Interlocked.Read(ref _gets);

    /// <summary>A bearer token accepted besides the basic-auth users (as if issued by a token server).</summary>
    public string? BearerToken { get; set; }

    /// <summary>Answer every blob GET with 500 (HEADs still work).</summary>
    public bool FailGets { get; set; }

    /// <summary>Delay before each GET body, so transfers overlap in tests that need them in flight.</summary>
    public TimeSpan GetDelay { get; set; }

    /// <summary>A blob byte offset served flipped (a registry, or a path to it, that corrupts data); -1: none.</summary>
    public long CorruptOffset { get; set; } = -1;

    public static async Task<CountingRegistry> StartAsync(IDictionary<string, string>? users = null)
    {
        var registry = new CountingRegistry(new Dictionary<string, string>(users ?? new Dictionary<string, string>()));
        registry._server = await LoopbackHttpServer.StartAsync(registry.HandleAsync);
        return registry;
    }

    /// <summary>Stores <paramref name="content"/> under <paramref name="digest"/> as given (it may not match).</summary>
    public void Put(string repository, Digest digest, byte[] content) => _blobs[$"{repository}@{digest}"] = content;

    /// <summary>Stores <paramref name="content"/> under its digest and returns its address.</summary>
    public BlobAddress Put(string repository, byte[] content)
    {
        var digest = Digest.Compute(content);
        Put(repository, digest, content);
        return new BlobAddress(repository, digest, content.Length);
    }

    public ValueTask DisposeAsync() => _server.DisposeAsync();

    private async Task HandleAsync(HttpContext context)
    {
        var request = context.Request;
        string path = request.Path.Value ?? "/";
        if ((_users.Count > 0 || BearerToken is not null) && !Authorized(request))
        {
            context.Response.StatusCode = 401;
            context.Response.Headers.WWWAuthenticate = "Basic realm=\"counting\"";
            return;
        }

        if (path == "/v2/" || path == "/v2")
        {
            context.Response.StatusCode = 200;
            return;
        }

        const string Blobs = "/blobs/";
        int at = path.LastIndexOf(Blobs, StringComparison.Ordinal);
        if (!path.StartsWith("/v2/", StringComparison.Ordinal) || at < 0 || !_blobs.TryGetValue($"{path[4..at]}@{path[(at + Blobs.Length)..]}", out byte[]? blob))
        {
            context.Response.StatusCode = 404;
            return;
        }

        long start = 0;
        long end = blob.Length - 1;
        string? range = request.Headers.Range;
        if (range is not null && range.StartsWith("bytes=", StringComparison.Ordinal))
        {
            string[] parts = range[6..].Split('-');
            start = long.Parse(parts[0], CultureInfo.InvariantCulture);
            if (parts[1].Length > 0)
            {
                end = Math.Min(end, long.Parse(parts[1], CultureInfo.InvariantCulture));
            }

            if (start >= blob.Length)
            {
                context.Response.StatusCode = 416;
                context.Response.Headers.ContentRange = $"bytes */{blob.Length}";
                return;
            }

            context.Response.StatusCode = 206;
            context.Response.Headers.ContentRange = $"bytes {start}-{end}/{blob.Length}";
        }

        context.Response.ContentType = "application/octet-stream";
        context.Response.Headers["Docker-Content-Digest"] = path[(at + Blobs.Length)..];
        context.Response.ContentLength = end - start + 1;
        if (HttpMethods.IsHead(request.Method))
        {
            context.Response.ContentLength = blob.Length;
            return;
        }

        Interlocked.Increment(ref _gets);
        if (FailGets)
        {
            context.Response.StatusCode = 500;
            context.Response.ContentLength = 0;
            return;
        }

        if (GetDelay > TimeSpan.Zero)
        {
            await Task.Delay(GetDelay, context.RequestAborted);
        }

        Interlocked.Add(ref _bytesServed, end - start + 1);
        byte[] body = blob.AsSpan((int)start, (int)(end - start + 1)).ToArray();
        long corrupt = CorruptOffset;
        if (corrupt >= start && corrupt <= end)
        {
            body[corrupt - start] ^= 0x5A;
        }

        await context.Response.Body.WriteAsync(body, context.RequestAborted);
    }

    private bool Authorized(HttpRequest request)
    {
        string? header = request.Headers.Authorization;
        if (BearerToken is not null && header == $"Bearer {BearerToken}")
        {
            return true;
        }

        if (header is null || !header.StartsWith("Basic ", StringComparison.Ordinal))
        {
            return false;
        }

        string decoded;
        try
        {
            decoded = Encoding.UTF8.GetString(Convert.FromBase64String(header[6..]));
        }
        catch (FormatException)
        {
            return false;
        }

        int colon = decoded.IndexOf(':');
        return colon > 0 && _users.TryGetValue(decoded[..colon], out string? password) && password == decoded[(colon + 1)..];
    }
}

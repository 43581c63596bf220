using Accelerator.Oci.Layout;
using System.Buffers;
using System.Collections.Concurrent;
using Accelerator.Oci.Model;
using Accelerator.Oci.Validation;
using Accelerator.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Accelerator.Hosting.Layout;

/// <summary>
/// A read-only registry over an <see cref="OciImageLayout"/>, on Kestrel: the pull side of the OCI distribution API
/// (<c>GET /v2/</c>; manifests by tag or digest and blobs by digest, <c>GET</c> and <c>HEAD</c>, blobs with a single
/// <c>Range</c>; tag lists; the referrers API of distribution-spec 1.1 with its <c>artifactType</c> filter), serving the layout's images under one repository name, and counting the bytes it serves.
/// It lets any registry client (skopeo, containerd, the library's own) read a layout, and gives <c>accel demo</c> a
/// registry without setup.
/// </summary>
/// <remarks>
/// Nothing unverified is served: manifests are read through the layout, which checks their digests, and each blob's
/// file is hashed once, before its first byte is sent. Pushes and deletes are refused (405 <c>UNSUPPORTED</c>).
/// </remarks>
public sealed partial class OciLayoutRegistryServer : IAsyncDisposable
{
    private const int CopyBufferSize = 64 * 1024;

    private readonly OciImageLayout _layout;
    private readonly OciLayoutRegistryServerOptions _options;
    private readonly ILogger _logger;
    private readonly ConcurrentDictionary<Digest, Lazy<Task<bool>>> _verified = new();
    private KestrelListener? _listener;
    private long _requests;
    private long _manifestBytes;
    private long _blobBytes;
    private int _disposed;

    private OciLayoutRegistryServer(OciImageLayout layout, OciLayoutRegistryServerOptions options, ILogger logger)
    {
        _layout = layout;
        _options = options;
        _logger = logger;
    }

    /// <summary>The base URL (with the bound port), ending in <c>/</c>.</summary>
    public Uri Url { get; private set; } = null!;

    /// <summary>The registry host as image references name it, <c>ADDRESS:PORT</c>.</summary>
    public string Host => Url.Authority;

    /// <summary>The repository the layout's images are served under.</summary>
    public string Repository => _options.Repository;

    /// <summary>A reference to <paramref name="tag"/> of the layout as served here (use plain HTTP).</summary>
    public ImageReference GetReference(string tag) => ImageReference.Create(Host, Repository, tag);

    /// <summary>Validates <paramref name="options"/>, starts listening and returns once connections are accepted.</summary>
    /// <exception cref="ArgumentException">An option is invalid.</exception>
    public static async Task<OciLayoutRegistryServer> StartAsync(
        OciImageLayout layout, OciLayoutRegistryServerOptions? options = null, ILoggerFactory? loggerFactory = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(layout);
        options ??= new OciLayoutRegistryServerOptions();
        new OciLayoutRegistryServerOptionsValidator().ThrowIfInvalid(options, "layout registry server");
        var server = new OciLayoutRegistryServer(layout, options, (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger<OciLayoutRegistryServer>());
        try
        {
            await server.StartListenerAsync(cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            await server.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        server.LogStarted(server.Url.ToString(), options.Repository, layout.Root);
        return server;
    }

    /// <summary>The counters so far.</summary>
    public OciLayoutRegistryStatistics GetStatistics()
        => new(Interlocked.Read(ref _requests), Interlocked.Read(ref _manifestBytes), Interlocked.Read(ref _blobBytes));

    /// <summary>Stops listening; requests in flight get up to 5 seconds to end.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0 || _listener is null)
        {
            return;
        }

        await _listener.DisposeAsync().ConfigureAwait(false);
    }

    private async Task StartListenerAsync(CancellationToken cancellationToken)
    {
        // Read-only: no request carries a body worth reading.
        _listener = await KestrelListener.StartAsync(_options.Listen!, HandleAsync, 64 * 1024, cancellationToken, tls: _options.Tls).ConfigureAwait(false);
        Url = _listener.Url;
    }

    /// <summary>Whether the blob file hashes to its digest; computed once per digest (a failure is checked again next time).</summary>
    private async Task<bool> IsVerifiedAsync(Digest digest, string path, CancellationToken cancellationToken)
    {
        var check = _verified.GetOrAdd(digest, d => new Lazy<Task<bool>>(() => HashMatchesAsync(d, path)));
        bool ok = await check.Value.WaitAsync(cancellationToken).ConfigureAwait(false);
        if (!ok)
        {
            _verified.TryRemove(KeyValuePair.Create(digest, check));
            LogCorruptBlob(digest.ToString(), path);
        }

        return ok;
    }

    private static async Task<bool> HashMatchesAsync(Digest digest, string path)
    {
        byte[] buffer = ArrayPool<byte>.Shared.Rent(CopyBufferSize);
        try
        {
            using var hasher = digest.CreateHasher();
            await using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete, 1, FileOptions.Asynchronous | FileOptions.SequentialScan);
            int n;
            while ((n = await file.ReadAsync(buffer).ConfigureAwait(false)) > 0)
            {
                hasher.AppendData(buffer, 0, n);
            }

            return Digest.TryParse($"{digest.Algorithm}:{Convert.ToHexStringLower(hasher.GetHashAndReset())}", out var actual) && actual == digest;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private static async Task<long> CopyRangeAsync(string path, long start, long length, Stream body, Action<long> served, CancellationToken cancellationToken)
    {
        byte[] buffer = ArrayPool<byte>.Shared.Rent(CopyBufferSize);
        try
        {
            await using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete, 1, FileOptions.Asynchronous);
            file.Seek(start, SeekOrigin.Begin);
            long left = length;
            while (left > 0)
            {
                int n = await file.ReadAsync(buffer.AsMemory(0, (int)Math.Min(buffer.Length, left)), cancellationToken).ConfigureAwait(false);
                if (n == 0)
                {
                    throw new EndOfStreamException($"{path} ended {left} bytes early.");
                }

                await body.WriteAsync(buffer.AsMemory(0, n), cancellationToken).ConfigureAwait(false);
                served(n);
                left -= n;
            }

            return length;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private void CountManifest(long bytes) => Interlocked.Add(ref _manifestBytes, bytes);

    private void CountBlob(long bytes) => Interlocked.Add(ref _blobBytes, bytes);

    private static bool IsTag(ReadOnlySpan<char> tag)
    {
        // distribution-spec: <reference> as a tag matches [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}.
        if (tag.IsEmpty || tag.Length > 128 || !(char.IsAsciiLetterOrDigit(tag[0]) || tag[0] == '_'))
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

}

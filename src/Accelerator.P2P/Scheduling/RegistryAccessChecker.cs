using System.Collections.Concurrent;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using Accelerator.Oci.Registry;
using Accelerator.P2P.Protocol;

namespace Accelerator.P2P.Scheduling;

/// <summary>The outcome of an access check: allowed with the registry's size, denied, or the blob does not exist.</summary>
internal readonly record struct AccessResult(HttpStatusCode Status, long Size, string? Error)
{
    public bool Allowed => Status == HttpStatusCode.OK;
}

/// <summary>
/// Checks, at the registry, that a credential may read a blob: a HEAD through a <see cref="RegistryClient"/> that knows
/// only that credential (never the scheduler's own), so basic auth and token servers work as for any pull. Results are
/// cached per (blob, credential hash) for a while; credentials themselves are not kept beyond the clients' lifetime.
/// </summary>
internal sealed class RegistryAccessChecker : IDisposable
{
    // A path that never exists, so the per-credential clients never read the scheduler's docker config.
    private const string NoDockerConfig = "/nonexistent/accel-p2p/docker-config.json";
    private const int MaxClients = 256;
    private const int MaxCachedResults = 100_000;

    private readonly RegistryOptions _baseOptions;
    private readonly TimeSpan _cacheDuration;
    private readonly TimeProvider _time;
    private readonly ConcurrentDictionary<string, RegistryClient> _clients = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, (AccessResult Result, long Until)> _results = new(StringComparer.Ordinal);
    private readonly Lazy<HttpClient> _http = new(() => new HttpClient(new SocketsHttpHandler { AllowAutoRedirect = false }));
    private readonly Lazy<HttpClient> _insecureHttp = new(() => new HttpClient(new SocketsHttpHandler
    {
        AllowAutoRedirect = false,
        SslOptions = { RemoteCertificateValidationCallback = (_, _, _, _) => true },
    }));

    public RegistryAccessChecker(RegistryOptions baseOptions, TimeSpan cacheDuration, TimeProvider time)
    {
        _baseOptions = baseOptions;
        _cacheDuration = cacheDuration;
        _time = time;
    }

    public async Task<AccessResult> CheckAsync(BlobRef blob, RegistryCredential? credential, CancellationToken cancellationToken)
    {
        string credentialKey = CredentialKey(blob.Registry, credential);
        string resultKey = $"{credentialKey}\n{blob.Repository}\n{blob.Digest}";
        long now = _time.GetTimestamp();
        if (_results.TryGetValue(resultKey, out var cached) && cached.Until > now)
        {
            return cached.Result;
        }

        AccessResult result;
        if (credential?.Authorization is { } authorization)
        {
            result = await HeadWithAuthorizationAsync(blob, authorization, cancellationToken).ConfigureAwait(false);
            Remember(resultKey, result, now);
            return result;
        }

        var (client, owned) = GetClient(credentialKey, blob.Registry, credential);
        try
        {
            long? size = await client.HeadBlobAsync(blob.Registry, blob.Repository, Digest.Parse(blob.Digest), cancellationToken).ConfigureAwait(false);
            result = size is long s
                ? new AccessResult(HttpStatusCode.OK, s, null)
                : new AccessResult(HttpStatusCode.NotFound, -1, $"blob {blob.Repository}@{blob.Digest} is not in {blob.Registry}");
        }
        catch (RegistryException ex) when (ex.StatusCode is HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden)
        {
            result = new AccessResult(HttpStatusCode.Forbidden, -1, $"the registry refused access to {blob.Repository}@{blob.Digest}");
        }
        finally
        {
            if (owned)
            {
                client.Dispose();
            }
        }

        Remember(resultKey, result, now);
        return result;
    }

    private void Remember(string key, AccessResult result, long now)
    {
        if (_results.Count >= MaxCachedResults)
        {
            _results.Clear();
        }

        _results[key] = (result, now + (long)(_cacheDuration.TotalSeconds * _time.TimestampFrequency));
    }

    /// <summary>A HEAD of the blob carrying the forwarded <c>Authorization</c> value as is, and nothing else.</summary>
    private async Task<AccessResult> HeadWithAuthorizationAsync(BlobRef blob, string authorization, CancellationToken cancellationToken)
    {
        _baseOptions.Hosts.TryGetValue(blob.Registry, out var host);
        bool plain = _baseOptions.PlainHttp || host?.PlainHttp == true;
        string apiPath = (host?.ApiPath ?? "/v2").TrimEnd('/');
        var url = new Uri($"{(plain ? "http" : "https")}://{blob.Registry}{apiPath}/{blob.Repository}/blobs/{blob.Digest}");
        using var request = new HttpRequestMessage(HttpMethod.Head, url);
        request.Headers.TryAddWithoutValidation("Authorization", authorization);
        request.Headers.UserAgent.ParseAdd(_baseOptions.UserAgent);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_baseOptions.RequestTimeout);
        HttpResponseMessage response;
        try
        {
            response = await (host?.SkipTlsVerify == true ? _insecureHttp.Value : _http.Value).SendAsync(request, timeout.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException ex) when (!cancellationToken.IsCancellationRequested)
        {
            throw new RegistryException($"HEAD {url} timed out.", inner: ex);
        }

        using (response)
        {
            return response.StatusCode switch
            {
                HttpStatusCode.OK when response.Content.Headers.ContentLength is long size => new AccessResult(HttpStatusCode.OK, size, null),
                HttpStatusCode.NotFound => new AccessResult(HttpStatusCode.NotFound, -1, $"blob {blob.Repository}@{blob.Digest} is not in {blob.Registry}"),
                HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden => new AccessResult(HttpStatusCode.Forbidden, -1, $"the registry refused access to {blob.Repository}@{blob.Digest}"),
                _ => throw new RegistryException($"HEAD {url} answered {(int)response.StatusCode}.", response.StatusCode),
            };
        }
    }

    /// <summary>A registry client reading with <paramref name="credential"/> only (for preheat manifest reads).</summary>
    public (RegistryClient Client, bool Owned) GetClient(string registry, RegistryCredential? credential)
        => GetClient(CredentialKey(registry, credential), registry, credential);

    public void Dispose()
    {
        if (_http.IsValueCreated)
        {
            _http.Value.Dispose();
        }

        if (_insecureHttp.IsValueCreated)
        {
            _insecureHttp.Value.Dispose();
        }

        foreach (var client in _clients.Values)
        {
            client.Dispose();
        }

        _clients.Clear();
    }

    private (RegistryClient Client, bool Owned) GetClient(string key, string registry, RegistryCredential? credential)
    {
        if (_clients.TryGetValue(key, out var client))
        {
            return (client, false);
        }

        client = new RegistryClient(CreateOptions(registry, credential), time: _time);
        if (_clients.Count >= MaxClients || !_clients.TryAdd(key, client))
        {
            return (client, true);
        }

        return (client, false);
    }

    private RegistryOptions CreateOptions(string registry, RegistryCredential? credential)
    {
        var options = new RegistryOptions
        {
            PlainHttp = _baseOptions.PlainHttp,
            DockerConfigPath = NoDockerConfig,
            MaxRetries = Math.Min(_baseOptions.MaxRetries, 2),
            RetryBaseDelay = _baseOptions.RetryBaseDelay,
            RequestTimeout = _baseOptions.RequestTimeout,
            UserAgent = _baseOptions.UserAgent,
        };
        _baseOptions.Hosts.TryGetValue(registry, out var baseHost);
        var host = new RegistryHostOptions
        {
            PlainHttp = baseHost?.PlainHttp ?? false,
            SkipTlsVerify = baseHost?.SkipTlsVerify ?? false,
            ApiPath = baseHost?.ApiPath,
            Username = credential?.Username,
            Password = credential?.Username is null ? null : credential.Password ?? string.Empty,
        };
        options.Hosts[registry] = host;
        return options;
    }

    private static string CredentialKey(string registry, RegistryCredential? credential)
    {
        if (credential?.Username is null && credential?.Authorization is null)
        {
            return registry.ToLowerInvariant() + "\nanonymous";
        }

        // The cache key holds a hash of the secret, never the secret.
        byte[] hash = SHA256.HashData(Encoding.UTF8.GetBytes($"{credential.Username}\0{credential.Password}\0{credential.Authorization}"));
        return $"{registry.ToLowerInvariant()}\n{Convert.ToHexString(hash)}";
    }
}

using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Headers;
using System.Security.Authentication;
using Microsoft.Extensions.Http.Resilience;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Polly;
using Polly.Timeout;

namespace Accelerator.Oci.Registry;

/// <summary>
/// A client of the OCI distribution API for any number of registry hosts: ping, manifests, blobs, uploads, mounts and
/// tags, with token and basic auth, redirects, retries and bounds. Create one per process and share it; it owns the
/// connection pool and the auth and token caches.
/// </summary>
/// <remarks>
/// Credentials and tokens of a host are sent to that host only (and a host's credentials to its token server):
/// redirects are followed here, not by the handler, for blob reads only (the distribution spec's redirect to storage),
/// never from HTTPS to plain HTTP, and drop <c>Authorization</c> and configured headers when they leave the origin.
/// Replayable requests are retried on 5xx, 429 (honouring <c>Retry-After</c>), timeouts and connection errors with
/// exponential backoff and jitter (Polly, through Microsoft.Extensions.Http.Resilience).
/// </remarks>
public sealed partial class RegistryClient : IDisposable
{
    private readonly RegistryOptions _options;
    private readonly HttpMessageInvoker _verifying;
    private readonly Lazy<HttpMessageInvoker> _insecure;
    private readonly bool _customHandler;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    // Built on first use: a command that sends one request (a HEAD of a tag) builds one pipeline, not two.
    private readonly Lazy<ResiliencePipeline<HttpResponseMessage>> _retryWithTimeout;
    private readonly Lazy<ResiliencePipeline<HttpResponseMessage>> _retryOnly;
    private readonly TokenCache _tokens;
    private readonly ConcurrentDictionary<string, HostAuthState> _hostAuth = new(StringComparer.OrdinalIgnoreCase);
    private readonly RegistryCredentialResolver _credentials;
    private readonly ConcurrentDictionary<string, RegistryImageStore> _stores = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>
    /// Creates a client. <paramref name="handler"/>, when given, is used for every host as is and not disposed; it must
    /// not follow redirects itself (<c>AllowAutoRedirect = false</c>), and <see cref="RegistryHostOptions.SkipTlsVerify"/>
    /// is then up to it. Throws <see cref="Microsoft.Extensions.Options.OptionsValidationException"/> for invalid options.
    /// </summary>
    public RegistryClient(RegistryOptions options, HttpMessageHandler? handler = null, ILogger<RegistryClient>? logger = null, TimeProvider? time = null)
    {
        RegistryOptionsValidator.ThrowIfInvalid(options);
        _options = options;
        _logger = (ILogger?)logger ?? NullLogger.Instance;
        _time = time ?? TimeProvider.System;
        _tokens = new TokenCache(_time);
        _customHandler = handler is not null;
        _verifying = new HttpMessageInvoker(handler ?? CreateHandler(skipTlsVerify: false), disposeHandler: handler is null);
        _insecure = new Lazy<HttpMessageInvoker>(() => new HttpMessageInvoker(CreateHandler(skipTlsVerify: true), disposeHandler: true));
        _retryWithTimeout = new Lazy<ResiliencePipeline<HttpResponseMessage>>(() => BuildPipeline(timeout: true));
        _retryOnly = new Lazy<ResiliencePipeline<HttpResponseMessage>>(() => BuildPipeline(timeout: false));
        _credentials = new RegistryCredentialResolver(options, _time);
    }

    /// <summary>The options (do not change them after creating the client).</summary>
    public RegistryOptions Options => _options;

    /// <summary>The image store of <paramref name="registry"/> (<c>host[:port]</c>), created once and cached.</summary>
    public RegistryImageStore GetStore(string registry)
    {
        ArgumentException.ThrowIfNullOrEmpty(registry);
        return _stores.GetOrAdd(registry, static (r, client) => new RegistryImageStore(client, r), this);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _verifying.Dispose();
        if (_insecure.IsValueCreated)
        {
            _insecure.Value.Dispose();
        }
    }

    private SocketsHttpHandler CreateHandler(bool skipTlsVerify)
    {
        var handler = new SocketsHttpHandler
        {
            // Redirects are followed by SendAsync so that Authorization never leaks to another origin.
            AllowAutoRedirect = false,
            AutomaticDecompression = DecompressionMethods.None,
            ConnectTimeout = _options.RequestTimeout,
            PooledConnectionLifetime = TimeSpan.FromMinutes(5),
            MaxConnectionsPerServer = Math.Max(_options.MaxParallelDownloads * 2, 8),
        };
        if (skipTlsVerify)
        {
            handler.SslOptions.RemoteCertificateValidationCallback = static (_, _, _, _) => true;
        }

        RedirectTargetGuard.Install(handler, _options.AllowLocalRedirectTargets);
        return handler;
    }

    private ResiliencePipeline<HttpResponseMessage> BuildPipeline(bool timeout)
    {
        var builder = new ResiliencePipelineBuilder<HttpResponseMessage> { TimeProvider = _time };
        if (_options.MaxRetries > 0)
        {
            builder.AddRetry(new HttpRetryStrategyOptions
            {
                MaxRetryAttempts = _options.MaxRetries,
                Delay = _options.RetryBaseDelay,
                MaxDelay = TimeSpan.FromMinutes(1),
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                ShouldRetryAfterHeader = true,
                ShouldHandle = static args => ValueTask.FromResult(IsTransient(args.Outcome)),
                OnRetry = args =>
                {
                    string reason = args.Outcome.Exception?.GetType().Name ?? ((int?)args.Outcome.Result?.StatusCode)?.ToString() ?? "?";
                    LogRetrying(args.AttemptNumber + 1, reason, args.RetryDelay);
                    return default;
                },
            });
        }

        if (timeout)
        {
            builder.AddTimeout(_options.RequestTimeout);
        }

        return builder.Build();
    }

    // 5xx, 408, 429, timeouts and connection errors; not a failed TLS handshake, which a retry will not fix.
    private static bool IsTransient(Outcome<HttpResponseMessage> outcome)
        => outcome.Exception is not HttpRequestException { InnerException: AuthenticationException }
           && HttpClientResiliencePredicates.IsTransient(outcome);

    /// <summary>The base URI of a registry host: https unless plain HTTP is asked for; Docker Hub's API host for docker.io.</summary>
    internal Uri BaseUri(string registry)
    {
        string host = registry.Equals(ImageReference.DockerHub, StringComparison.OrdinalIgnoreCase) ? "registry-1.docker.io" : registry;
        return new Uri($"{(_options.UsesPlainHttp(registry) ? "http" : "https")}://{host}/");
    }

    /// <summary>
    /// The URI of <paramref name="relative"/> (which starts with <c>v2/</c>) on <paramref name="registry"/>, under the
    /// host's <see cref="RegistryHostOptions.ApiPath"/> when it has one.
    /// </summary>
    internal Uri ApiUri(string registry, string relative)
    {
        if (_options.GetHost(registry)?.ApiPath is { } apiPath && relative.StartsWith("v2/", StringComparison.Ordinal))
        {
            string root = apiPath.Trim('/');
            relative = (root.Length == 0 ? "" : root + "/") + relative[3..];
        }

        return new(BaseUri(registry), relative);
    }

    /// <summary>
    /// Sends a request with auth, redirects and retries. A 401 is answered once: the refused token is dropped, the
    /// credential sources are read again (<see cref="RegistryCredentialResolver.Refused"/>), and the request is sent again
    /// with a new token (or the newer credentials); a second 401 is the caller's answer. So an expired, revoked or
    /// re-keyed token, or credentials rotated in config.json, a helper or a CRI pull, do not fail a read.
    /// </summary>
    internal async Task<HttpResponseMessage> SendAsync(RegistryRequest request, CancellationToken cancellationToken)
    {
        IReadOnlyList<string> scopes = request.Scopes;
        bool retriedAuth = false;
        while (true)
        {
            // A request sent elsewhere than the registry's own origin (an upload Location on another host) carries nothing.
            var authorization = SameOrigin(request.Uri, BaseUri(request.Registry))
                ? await GetAuthorizationAsync(request.Registry, scopes, cancellationToken).ConfigureAwait(false)
                : default;
            request.SentCredentials = authorization.Credentials;
            HttpResponseMessage response;
            try
            {
                response = await SendFollowingRedirectsAsync(request, authorization.Header, cancellationToken).ConfigureAwait(false);
            }
            catch (HttpRequestException ex)
            {
                string hint = ex.InnerException is AuthenticationException && request.Uri.Scheme == Uri.UriSchemeHttps
                    ? $"; if {request.Registry} serves plain HTTP, allow it (PlainHttp / --plain-http)"
                    : "";
                string unreachable = ex.HttpRequestError is HttpRequestError.ConnectionError or HttpRequestError.NameResolutionError
                    ? $"the registry {request.Uri.Authority} is unreachable after {_options.MaxRetries} retries: "
                    : "";
                throw new RegistryException($"{request.Describe()}: {unreachable}{ex.Message}{hint}", inner: ex);
            }
            catch (TimeoutRejectedException ex)
            {
                throw new RegistryException($"{request.Describe()}: the registry {request.Uri.Authority} is unreachable: no answer within {_options.RequestTimeout.TotalSeconds:0.###} s (after {_options.MaxRetries} retries).", inner: ex);
            }

            if (response.StatusCode != HttpStatusCode.Unauthorized || retriedAuth || !(request.Content is null || request.Replayable))
            {
                return response;
            }

            var next = HandleChallenge(request.Registry, scopes, response, authorization);
            if (next is null)
            {
                return response;
            }

            response.Dispose();
            scopes = next;
            retriedAuth = true;
        }
    }

    private async Task<HttpResponseMessage> SendFollowingRedirectsAsync(RegistryRequest request, AuthenticationHeaderValue? authorization, CancellationToken cancellationToken)
    {
        Uri uri = request.Uri;
        HttpMethod method = request.Method;
        bool withBody = request.Content is not null;
        for (int hop = 0; ; hop++)
        {
            var response = await SendHopAsync(request, method, uri, authorization, withBody, redirected: !SameOrigin(uri, request.Uri), cancellationToken).ConfigureAwait(false);
            int status = (int)response.StatusCode;
            if (status is not (301 or 302 or 303 or 307 or 308) || response.Headers.Location is not { } location)
            {
                return response;
            }

            response.Dispose();
            if (!request.FollowRedirects)
            {
                throw new RegistryException($"{request.Describe()}: the registry answered a redirect ({status}); redirects are followed for blob reads only.");
            }

            if (hop >= _options.MaxRedirects)
            {
                throw new RegistryException($"{request.Describe()}: more than {_options.MaxRedirects} redirects.");
            }

            Uri target = location.IsAbsoluteUri ? location : new Uri(uri, location);
            if (target.Scheme != Uri.UriSchemeHttps && target.Scheme != Uri.UriSchemeHttp)
            {
                throw new RegistryException($"{request.Describe()}: redirect to unsupported scheme '{target.Scheme}'.");
            }

            if (target.Scheme == Uri.UriSchemeHttp && uri.Scheme == Uri.UriSchemeHttps && !_options.UsesPlainHttp(target.Authority))
            {
                throw new RegistryException($"{request.Describe()}: refused a redirect from HTTPS to plain HTTP ({target.Authority}).");
            }

            bool sameOrigin = SameOrigin(uri, target);
            if (!sameOrigin)
            {
                // The credentials or token are for the registry only; a storage backend gets a signed URL instead.
                authorization = null;
            }

            if (status == 303 || (status is 301 or 302 && method == HttpMethod.Post))
            {
                method = HttpMethod.Get;
                withBody = false;
            }
            else if (withBody && !request.Replayable)
            {
                throw new RegistryException($"{request.Describe()}: redirected ({status}) but the body cannot be sent again.");
            }

            LogRedirect(status, SafeUri(uri), SafeUri(target), !sameOrigin);
            uri = target;
        }
    }

    private async Task<HttpResponseMessage> SendHopAsync(RegistryRequest request, HttpMethod method, Uri uri, AuthenticationHeaderValue? authorization, bool withBody, bool redirected, CancellationToken cancellationToken)
    {
        var invoker = InvokerFor(uri);
        HttpRequestMessage Build()
        {
            var message = new HttpRequestMessage(method, uri);
            if (redirected)
            {
                RedirectTargetGuard.MarkAsRedirect(message);
            }

            message.Headers.UserAgent.ParseAdd(_options.UserAgent);
            if (request.Accept is { } accept)
            {
                foreach (string type in accept)
                {
                    message.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue(type));
                }
            }

            if (request.Range is { } range)
            {
                message.Headers.Range = new RangeHeaderValue(range.From, range.To);
            }

            message.Headers.Authorization = authorization;
            if (_options.GetHost(request.Registry) is { Headers.Count: > 0 } host && SameOrigin(uri, BaseUri(request.Registry)))
            {
                // Configured headers are for this host only, like its credentials.
                foreach (var (name, values) in host.Headers)
                {
                    message.Headers.TryAddWithoutValidation(name, values);
                }
            }

            if (withBody)
            {
                message.Content = request.Content!();
            }

            return message;
        }

        if (withBody && !request.Replayable)
        {
            return await invoker.SendAsync(Build(), cancellationToken).ConfigureAwait(false);
        }

        var pipeline = (request.LongBody ? _retryOnly : _retryWithTimeout).Value;
        return await pipeline.ExecuteAsync(
            async token => await invoker.SendAsync(Build(), token).ConfigureAwait(false),
            cancellationToken).ConfigureAwait(false);
    }

    private HttpMessageInvoker InvokerFor(Uri uri)
        => !_customHandler && _options.GetHost(uri.Authority)?.SkipTlsVerify == true ? _insecure.Value : _verifying;

    private static bool SameOrigin(Uri a, Uri b)
        => a.Scheme == b.Scheme && string.Equals(a.IdnHost, b.IdnHost, StringComparison.OrdinalIgnoreCase) && a.Port == b.Port;

    // Query strings of redirects carry signatures; keep them out of logs.
    private static string SafeUri(Uri uri) => uri.GetLeftPart(UriPartial.Path);

    /// <summary>Builds the <see cref="RegistryException"/> for an unexpected response (and disposes the response).</summary>
    internal async Task<Exception> ErrorAsync(HttpResponseMessage response, RegistryRequest request, string what, CancellationToken cancellationToken)
    {
        using (response)
        {
            string? hint = null;
            if (response.StatusCode is HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden)
            {
                // Name the credentials the refused attempt carried (to the registry, or to its token server).
                var sent = request.SentCredentials;
                hint = sent is null
                    ? $"sent anonymously: {_credentials.NoCredentialsHint(request.Registry)}"
                    : $"check the credentials for {request.Registry} and their rights on {string.Join(", ", request.Scopes)} (used {DescribeSource(sent)})";
            }

            return await RegistryException.FromResponseAsync(response, $"{what} ({request.Describe()})", hint, cancellationToken).ConfigureAwait(false);
        }
    }
}

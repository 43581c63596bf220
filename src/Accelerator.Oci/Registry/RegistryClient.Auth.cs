using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;

namespace Accelerator.Oci.Registry;

public sealed partial class RegistryClient
{
    // A token response is a small JSON document.
    private const int MaxTokenResponseBytes = 1024 * 1024;

    // distribution's token spec: when expires_in is absent, a token is valid for 60 seconds. A shorter expires_in (the
    // spec asks servers not to send one, some do) is honoured: using a token past it would only earn a 401.
    private const int DefaultTokenLifetimeSeconds = 60;

    /// <summary>What a host asked for the last time it challenged us.</summary>
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, SemaphoreSlim> _tokenGates = new(StringComparer.Ordinal);

    private sealed class HostAuthState
    {
        public volatile AuthChallenge? Bearer;
        public volatile bool Basic;
    }

    /// <summary>
    /// Pings <c>/v2/</c> without credentials and reports the status and the auth challenges the registry answers
    /// with (and remembers them, so later requests authenticate at once).
    /// </summary>
    public async Task<RegistryPingResult> PingAsync(string registry, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(registry);
        var request = new RegistryRequest(HttpMethod.Get, registry, ApiUri(registry, "v2/"));
        HttpResponseMessage response;
        try
        {
            response = await SendFollowingRedirectsAsync(request, null, cancellationToken).ConfigureAwait(false);
        }
        catch (HttpRequestException ex)
        {
            throw new RegistryException($"{request.Describe()}: {ex.Message}", inner: ex);
        }

        using (response)
        {
            var challenges = ReadChallenges(response);
            if (response.StatusCode == HttpStatusCode.Unauthorized)
            {
                Remember(registry, challenges);
            }
            else if (!response.IsSuccessStatusCode)
            {
                throw await ErrorAsync(response, request, $"Ping of {registry} failed", cancellationToken).ConfigureAwait(false);
            }

            string? version = response.Headers.TryGetValues("Docker-Distribution-API-Version", out var values) ? values.FirstOrDefault() : null;
            return new RegistryPingResult(response.StatusCode, challenges, version);
        }
    }

    private static IReadOnlyList<AuthChallenge> ReadChallenges(HttpResponseMessage response)
    {
        var result = new List<AuthChallenge>();
        if (response.Headers.NonValidated.TryGetValues("WWW-Authenticate", out var values))
        {
            foreach (string value in values)
            {
                // A malformed challenge is ignored; the request then fails with the registry's 401.
                if (AuthChallenge.TryParse(value, out var parsed))
                {
                    result.AddRange(parsed);
                }
            }
        }

        return result;
    }

    private void Remember(string registry, IReadOnlyList<AuthChallenge> challenges)
    {
        var state = _hostAuth.GetOrAdd(registry, _ => new HostAuthState());
        if (challenges.FirstOrDefault(c => c.IsBearer && c.Realm is not null) is { } bearer)
        {
            state.Bearer = bearer;
        }
        else if (challenges.Any(c => c.IsBasic))
        {
            state.Basic = true;
        }
    }

    /// <summary>What one attempt sent: the header, the cache key of the token in it (if one came from the cache), and whose credentials.</summary>
    private readonly record struct SentAuthorization(AuthenticationHeaderValue? Header, string? TokenKey, RegistryCredentials? Credentials);

    private async ValueTask<SentAuthorization> GetAuthorizationAsync(string registry, IReadOnlyList<string> scopes, CancellationToken cancellationToken)
    {
        if (_credentials.Given(registry, scopes) is { RegistryToken: { Length: > 0 } registryToken } given && IsTokenText(registryToken))
        {
            return new SentAuthorization(new AuthenticationHeaderValue("Bearer", registryToken), null, given);
        }

        if (!_hostAuth.TryGetValue(registry, out var state))
        {
            return default;
        }

        if (state.Bearer is { } challenge)
        {
            var (token, key, credentials) = await GetTokenAsync(registry, challenge, scopes, cancellationToken).ConfigureAwait(false);
            return new SentAuthorization(new AuthenticationHeaderValue("Bearer", token), key, credentials);
        }

        if (state.Basic && _credentials.Find(registry, scopes) is { HasPassword: true } basic)
        {
            return new SentAuthorization(new AuthenticationHeaderValue("Basic", basic.BasicParameter), null, basic);
        }

        return default;
    }

    /// <summary>
    /// Handles a 401: returns the scopes to retry with, or null when there is nothing new to try. What was sent and
    /// refused (an expired or revoked token, rotated credentials) is dropped, and the credential sources are read again,
    /// so the one retry uses a new token and the newest credentials.
    /// </summary>
    private IReadOnlyList<string>? HandleChallenge(string registry, IReadOnlyList<string> scopes, HttpResponseMessage response, SentAuthorization sent)
    {
        var challenges = ReadChallenges(response);
        var bearer = challenges.FirstOrDefault(c => c.IsBearer && c.Realm is not null);
        var state = _hostAuth.GetOrAdd(registry, _ => new HostAuthState());
        if (sent.Header is { } refused)
        {
            LogRefused(registry, string.Join(' ', scopes), refused.Scheme, DescribeSource(sent.Credentials));
            _credentials.Refused(registry);
            if (sent.TokenKey is { } key)
            {
                _tokens.Remove(key, refused.Parameter ?? "");
            }
        }

        if (bearer is not null)
        {
            LogChallenge(registry, "Bearer", bearer.Scope ?? "");
            state.Bearer = bearer;
            var merged = scopes.ToList();
            foreach (string scope in (bearer.Scope ?? "").Split(' ', StringSplitOptions.RemoveEmptyEntries))
            {
                if (!merged.Contains(scope, StringComparer.Ordinal))
                {
                    merged.Add(scope);
                }
            }

            // A registry token given as is (CRI's registry_token) is worth retrying only when a newer one replaced it.
            if (sent.Header is not null && sent.TokenKey is null && _credentials.Given(registry, merged) is { RegistryToken: { Length: > 0 } } again
                && again.Equals(sent.Credentials))
            {
                return null;
            }

            return merged;
        }

        if (challenges.Any(c => c.IsBasic) && _credentials.Find(registry, scopes) is { HasPassword: true } credentials
            && (sent.Header?.Scheme != "Basic" || !credentials.Equals(sent.Credentials)))
        {
            LogChallenge(registry, "Basic", "");
            state.Basic = true;
            return scopes;
        }

        return null;
    }

    private async Task<(string Token, string Key, RegistryCredentials? Credentials)> GetTokenAsync(string registry, AuthChallenge challenge, IReadOnlyList<string> scopes, CancellationToken cancellationToken)
    {
        var credentials = _credentials.Find(registry, scopes);
        string key = TokenCache.Key(registry, challenge.Realm!, challenge.Service, scopes, credentials);
        if (_tokens.TryGet(key, out string cached))
        {
            return (cached, key, credentials);
        }

        // Parallel requests needing the same token wait for one fetch instead of each asking the token server.
        var gate = _tokenGates.GetOrAdd(key, static _ => new SemaphoreSlim(1, 1));
        await gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_tokens.TryGet(key, out cached))
            {
                return (cached, key, credentials);
            }

            try
            {
                return (await FetchTokenAsync(registry, challenge, scopes, key, credentials, cancellationToken).ConfigureAwait(false), key, credentials);
            }
            catch (RegistryException ex) when (ex.StatusCode is HttpStatusCode.Unauthorized)
            {
                // The token server refused the credentials: read their sources again and try once more if they changed
                // (a rotated password in config.json, a helper's new answer, a newer CRI pull).
                _credentials.Refused(registry);
                var again = _credentials.Find(registry, scopes);
                if (again is null || again.Equals(credentials))
                {
                    throw;
                }

                string newKey = TokenCache.Key(registry, challenge.Realm!, challenge.Service, scopes, again);
                return (await FetchTokenAsync(registry, challenge, scopes, newKey, again, cancellationToken).ConfigureAwait(false), newKey, again);
            }
        }
        finally
        {
            gate.Release();
        }
    }

    /// <summary>Names where <paramref name="credentials"/> came from, or says that nothing was sent.</summary>
    private static string DescribeSource(RegistryCredentials? credentials)
        => credentials is null ? "anonymous" : $"credentials from {credentials.Source ?? "an unnamed source"}";

    private async Task<string> FetchTokenAsync(string registry, AuthChallenge challenge, IReadOnlyList<string> scopes, string key, RegistryCredentials? credentials, CancellationToken cancellationToken)
    {
        string realm = challenge.Realm!;

        if (!Uri.TryCreate(realm, UriKind.Absolute, out var realmUri) || (realmUri.Scheme != Uri.UriSchemeHttps && realmUri.Scheme != Uri.UriSchemeHttp))
        {
            throw new RegistryException($"{registry} named an invalid token realm '{Truncate(realm)}'.");
        }

        if (realmUri.Scheme == Uri.UriSchemeHttp && !_options.UsesPlainHttp(registry) && !_options.UsesPlainHttp(realmUri.Authority))
        {
            throw new RegistryException($"{registry} named a plain-HTTP token realm {realmUri.GetLeftPart(UriPartial.Path)}; allow plain HTTP for {registry} to use it.");
        }

        HttpRequestMessage Build()
        {
            HttpRequestMessage message;
            if (credentials?.IdentityToken is { } refresh)
            {
                // distribution token spec, "OAuth2 Token Authentication": a refresh token is exchanged by POSTing a form.
                var form = new List<KeyValuePair<string, string>>
                {
                    new("grant_type", "refresh_token"),
                    new("refresh_token", refresh),
                    new("client_id", "accelerator"),
                };
                if (challenge.Service is { } service)
                {
                    form.Add(new("service", service));
                }

                if (scopes.Count > 0)
                {
                    form.Add(new("scope", string.Join(' ', scopes)));
                }

                message = new HttpRequestMessage(HttpMethod.Post, realmUri) { Content = new FormUrlEncodedContent(form) };
            }
            else
            {
                var query = new List<string>();
                if (challenge.Service is { } service)
                {
                    query.Add("service=" + Uri.EscapeDataString(service));
                }

                query.AddRange(scopes.Select(s => "scope=" + Uri.EscapeDataString(s)));
                var builder = new UriBuilder(realmUri);
                string existing = builder.Query.TrimStart('?');
                builder.Query = string.Join('&', new[] { existing }.Where(q => q.Length > 0).Concat(query));
                message = new HttpRequestMessage(HttpMethod.Get, builder.Uri);
                if (credentials is { HasPassword: true })
                {
                    message.Headers.Authorization = new AuthenticationHeaderValue("Basic", credentials.BasicParameter);
                }
            }

            message.Headers.UserAgent.ParseAdd(_options.UserAgent);
            return message;
        }

        var invoker = InvokerFor(realmUri);
        HttpResponseMessage response;
        try
        {
            response = await _retryWithTimeout.Value.ExecuteAsync(
                async token => await invoker.SendAsync(Build(), token).ConfigureAwait(false),
                cancellationToken).ConfigureAwait(false);
        }
        catch (HttpRequestException ex)
        {
            throw new RegistryException($"Token server {realmUri.GetLeftPart(UriPartial.Path)} for {registry}: {ex.Message}", inner: ex);
        }

        using (response)
        {
            string what = $"Token server {realmUri.GetLeftPart(UriPartial.Path)} refused a token for {registry} ({(scopes.Count == 0 ? "no scope" : string.Join(' ', scopes))}, {DescribeSource(credentials)})";
            if (!response.IsSuccessStatusCode)
            {
                string? hint = response.StatusCode is HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden
                    ? credentials is null ? _credentials.NoCredentialsHint(registry) : $"check the credentials for {registry} ({DescribeSource(credentials)})"
                    : null;
                throw await RegistryException.FromResponseAsync(response, what, hint, cancellationToken).ConfigureAwait(false);
            }

            byte[] body = await HttpBodies.ReadBoundedAsync(response.Content, MaxTokenResponseBytes, truncate: false, cancellationToken, "token response").ConfigureAwait(false);
            var (tokenValue, lifetime, issuedAt) = ParseTokenResponse(body);
            _tokens.Set(key, tokenValue, lifetime, issuedAt);
            LogTokenFetched(registry, string.Join(' ', scopes), lifetime);
            return tokenValue;
        }
    }


    /// <summary>Reads <c>{"token"|"access_token": …, "expires_in": …, "issued_at": …}</c>.</summary>
    internal static (string Token, TimeSpan Lifetime, DateTimeOffset? IssuedAt) ParseTokenResponse(ReadOnlySpan<byte> body)
    {
        try
        {
            var reader = new Utf8JsonReader(body, new JsonReaderOptions { MaxDepth = 8 });
            using var json = JsonDocument.ParseValue(ref reader);
            var root = json.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                throw new RegistryException("The token server answered with something other than a JSON object.");
            }

            string? token = root.TryGetProperty("token", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString() : null;
            if (string.IsNullOrEmpty(token) && root.TryGetProperty("access_token", out var at) && at.ValueKind == JsonValueKind.String)
            {
                token = at.GetString();
            }

            if (string.IsNullOrEmpty(token) || token.Length > 64 * 1024 || token.Any(c => c < 0x21 || c > 0x7e))
            {
                throw new RegistryException("The token server answered without a usable token.");
            }

            int seconds = root.TryGetProperty("expires_in", out var e) && e.ValueKind == JsonValueKind.Number && e.TryGetInt32(out int s) ? s : 0;
            seconds = seconds <= 0 ? DefaultTokenLifetimeSeconds : Math.Min(seconds, 24 * 3600);
            DateTimeOffset? issued = root.TryGetProperty("issued_at", out var i) && i.ValueKind == JsonValueKind.String
                && DateTimeOffset.TryParse(i.GetString(), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var when)
                ? when
                : null;
            return (token, TimeSpan.FromSeconds(seconds), issued);
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException)
        {
            throw new RegistryException($"The token server answered with invalid JSON: {ex.Message}", inner: ex);
        }
    }

    // RFC 6750's b64token, bounded: anything else would corrupt the header.
    private static bool IsTokenText(string token) => token.Length <= 64 * 1024 && token.All(c => c is > (char)0x20 and < (char)0x7f);

    private static string Truncate(string s) => s.Length > 100 ? s[..100] + "…" : s;
}

/// <summary>The answer to a ping of <c>/v2/</c>.</summary>
/// <param name="StatusCode">200 when the registry is open, 401 when it wants auth.</param>
/// <param name="Challenges">The challenges of the <c>WWW-Authenticate</c> headers (empty when none).</param>
/// <param name="ApiVersion">The <c>Docker-Distribution-API-Version</c> header, e.g. <c>registry/2.0</c>.</param>
public sealed record RegistryPingResult(HttpStatusCode StatusCode, IReadOnlyList<AuthChallenge> Challenges, string? ApiVersion)
{
    /// <summary>Whether the registry requires authentication.</summary>
    public bool RequiresAuth => StatusCode == HttpStatusCode.Unauthorized;
}

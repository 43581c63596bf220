using System.Collections.Concurrent;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Http;

namespace Accelerator.Testing.Registry;

/// <summary>One request the <see cref="RegistryTokenServer"/> answered.</summary>
/// <param name="User">The authenticated user, or null when anonymous.</param>
/// <param name="Scopes">The scopes asked for.</param>
/// <param name="Granted">The scopes granted (same form).</param>
/// <param name="Status">The HTTP status answered.</param>
public sealed record TokenRequestRecord(string? User, IReadOnlyList<string> Scopes, IReadOnlyList<string> Granted, int Status);

/// <summary>
/// A token server for a real <c>docker-registry</c> with <c>auth: token</c> (the distribution token spec): it issues
/// ES256 JWTs whose header carries the signing certificate (<c>x5c</c>), that certificate being the registry's
/// <c>rootcertbundle</c>. Anonymous callers get <c>pull</c> only (nothing when <see cref="AllowAnonymousPull"/> is off); callers with the right basic credentials get what they
/// ask for; wrong credentials get 401. Every request is recorded in <see cref="Requests"/>.
/// </summary>
public sealed class RegistryTokenServer : IAsyncDisposable
{
    private readonly ECDsa _key;
    private readonly X509Certificate2 _certificate;
    private readonly string _directory;
    private LoopbackHttpServer? _server;

    private volatile string _password;

    private RegistryTokenServer(string username, string password, string directory)
    {
        Username = username;
        _password = password;
        _directory = directory;
        _key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=accelerator test token issuer", _key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.KeyCertSign, true));
        var now = DateTimeOffset.UtcNow;
        _certificate = request.CreateSelfSigned(now.AddDays(-1), now.AddYears(1));
        RootCertBundlePath = Path.Combine(directory, "token-root.pem");
        File.WriteAllText(RootCertBundlePath, _certificate.ExportCertificatePem() + "\n");
    }

    /// <summary>The user allowed to push.</summary>
    public string Username { get; }

    /// <summary>That user's password; set it to rotate the password (the next token request must bring the new one).</summary>
    public string Password
    {
        get => _password;
        set => _password = value;
    }

    /// <summary>The service name (token audience) the registry must be configured with.</summary>
    public string Service { get; } = "accelerator-test-registry";

    /// <summary>The issuer the registry must be configured with.</summary>
    public string Issuer { get; } = "accelerator-test-issuer";

    /// <summary>The PEM file with the signing certificate, for the registry's <c>rootcertbundle</c>.</summary>
    public string RootCertBundlePath { get; }

    /// <summary>The token endpoint, the registry's <c>realm</c>.</summary>
    public Uri Realm => new(_server!.Url, "token");

    /// <summary>The lifetime written into tokens (<c>expires_in</c> and, unless <see cref="RegistryAcceptsTokensFor"/> is set, <c>exp</c>).</summary>
    public TimeSpan TokenLifetime { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>
    /// How long the registry accepts a token, when it should differ from <see cref="TokenLifetime"/>: a token that
    /// "expires early" (revoked, or the registry's clock ahead) although <c>expires_in</c> promised more. The registry
    /// (distribution 2.8) allows 60 s of clock skew past <c>exp</c>, so <c>exp</c> is written that much earlier.
    /// </summary>
    /// <value>Default <see langword="null"/>: <c>exp</c> is issue time plus <see cref="TokenLifetime"/> (the registry then accepts it 60 s longer).</value>
    public TimeSpan? RegistryAcceptsTokensFor { get; set; }

    /// <summary>The clock skew docker-registry (distribution's token verifier) allows past a token's <c>exp</c>.</summary>
    public static readonly TimeSpan RegistryLeeway = TimeSpan.FromSeconds(60);

    /// <summary>
    /// Whether anonymous callers get <c>pull</c> (a public registry that needs credentials to push). When false, an
    /// anonymous caller gets a token that grants nothing, as a private registry's token server answers, and the
    /// registry then refuses the request.
    /// </summary>
    /// <value>Default <see langword="true"/>.</value>
    public bool AllowAnonymousPull { get; set; } = true;

    /// <summary>Every request answered, in order.</summary>
    public ConcurrentQueue<TokenRequestRecord> Requests { get; } = new();

    /// <summary>The settings for <see cref="DockerRegistryOptions.TokenAuth"/>.</summary>
    public RegistryTokenAuth RegistryAuth => new(Realm, Service, Issuer, RootCertBundlePath);

    /// <summary>Starts a token server on a free loopback port; the certificate goes into a temporary directory.</summary>
    public static async Task<RegistryTokenServer> StartAsync(string username = "pusher", string password = "s3cret-pass", CancellationToken cancellationToken = default)
    {
        string directory = Directory.CreateTempSubdirectory("accel-token-").FullName;
        var server = new RegistryTokenServer(username, password, directory);
        server._server = await LoopbackHttpServer.StartAsync(server.HandleAsync, cancellationToken: cancellationToken).ConfigureAwait(false);
        return server;
    }

    private async Task HandleAsync(HttpContext context)
    {
        if (context.Request.Path != "/token")
        {
            context.Response.StatusCode = 404;
            return;
        }

        string? user = null;
        string header = context.Request.Headers.Authorization.ToString();
        var scopes = context.Request.Query["scope"].SelectMany(s => (s ?? "").Split(' ', StringSplitOptions.RemoveEmptyEntries)).ToList();
        if (context.Request.Method == "POST" && context.Request.HasFormContentType)
        {
            var form = await context.Request.ReadFormAsync().ConfigureAwait(false);
            scopes.AddRange(form["scope"].SelectMany(s => (s ?? "").Split(' ', StringSplitOptions.RemoveEmptyEntries)));
            // An identity (refresh) token is accepted when it is the password; the OAuth2 password grant (containerd's
            // first try with a user and password) with the user and password.
            if (form["grant_type"] == "refresh_token" && form["refresh_token"] == Password)
            {
                user = Username;
            }
            else if (form["grant_type"] == "password" && form["username"] == Username && form["password"] == Password)
            {
                user = Username;
            }
            else
            {
                Reject(context, scopes);
                return;
            }
        }
        else if (header.Length > 0)
        {
            if (!AuthenticationHeaderValue.TryParse(header, out var parsed) || parsed.Scheme != "Basic" || parsed.Parameter is null)
            {
                Reject(context, scopes);
                return;
            }

            string decoded;
            try
            {
                decoded = Encoding.UTF8.GetString(Convert.FromBase64String(parsed.Parameter));
            }
            catch (FormatException)
            {
                Reject(context, scopes);
                return;
            }

            if (decoded != $"{Username}:{Password}")
            {
                Reject(context, scopes);
                return;
            }

            user = Username;
        }

        string? service = context.Request.Query["service"];
        var access = new List<object>();
        var granted = new List<string>();
        foreach (string scope in scopes)
        {
            // repository:NAME:ACTIONS; the name has no colon (registry hosts are not part of it).
            string[] parts = scope.Split(':');
            if (parts.Length != 3)
            {
                continue;
            }

            var actions = parts[2].Split(',', StringSplitOptions.RemoveEmptyEntries).Where(a => user is not null || (a == "pull" && AllowAnonymousPull)).ToArray();
            if (actions.Length == 0)
            {
                continue;
            }

            access.Add(new { type = parts[0], name = parts[1], actions });
            granted.Add($"{parts[0]}:{parts[1]}:{string.Join(',', actions)}");
        }

        var now = DateTimeOffset.UtcNow;
        var lifetime = TokenLifetime;
        var expires = RegistryAcceptsTokensFor is { } accepted ? now + accepted - RegistryLeeway : now + lifetime;
        var notBefore = now.AddSeconds(-30) < expires ? now.AddSeconds(-30) : expires;
        string token = Sign(new
        {
            iss = Issuer,
            sub = user ?? "",
            aud = service ?? Service,
            exp = expires.ToUnixTimeSeconds(),
            nbf = notBefore.ToUnixTimeSeconds(),
            iat = now.ToUnixTimeSeconds(),
            jti = Guid.NewGuid().ToString("N"),
            access,
        });
        Requests.Enqueue(new TokenRequestRecord(user, scopes, granted, 200));
        context.Response.ContentType = "application/json";
        await context.Response.WriteAsync(JsonSerializer.Serialize(new
        {
            token,
            access_token = token,
            expires_in = (int)lifetime.TotalSeconds,
            issued_at = now.ToString("yyyy-MM-ddTHH:mm:ssZ"),
        })).ConfigureAwait(false);
    }

    private void Reject(HttpContext context, IReadOnlyList<string> scopes)
    {
        Requests.Enqueue(new TokenRequestRecord(null, scopes, [], 401));
        context.Response.StatusCode = 401;
        context.Response.Headers.WWWAuthenticate = "Basic realm=\"token\"";
    }

    // JWS compact serialization (RFC 7515) with ES256: the signature is r||s (IEEE P1363), as libtrust expects.
    private string Sign(object claims)
    {
        var header = new { typ = "JWT", alg = "ES256", x5c = new[] { Convert.ToBase64String(_certificate.RawData) } };
        string signingInput = Base64Url(JsonSerializer.SerializeToUtf8Bytes(header)) + "." + Base64Url(JsonSerializer.SerializeToUtf8Bytes(claims));
        byte[] signature = _key.SignData(Encoding.ASCII.GetBytes(signingInput), HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation);
        return signingInput + "." + Base64Url(signature);
    }

    private static string Base64Url(byte[] data) => Convert.ToBase64String(data).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync().ConfigureAwait(false);
        }

        _certificate.Dispose();
        _key.Dispose();
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

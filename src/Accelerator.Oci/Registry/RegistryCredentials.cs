using System.Text;
using System.Text.Json;

namespace Accelerator.Oci.Registry;

/// <summary>
/// Credentials for one registry host: a user name and password, an identity (refresh) token, or a bearer token for the
/// registry itself (what a CRI pull request's <c>AuthConfig</c> can carry).
/// </summary>
/// <param name="Username">The user name; for an identity token, docker writes <c>&lt;token&gt;</c> here.</param>
/// <param name="Password">The password.</param>
/// <param name="IdentityToken">An OAuth2 refresh token for the token server.</param>
public sealed record RegistryCredentials(string? Username, string? Password, string? IdentityToken)
{
    /// <summary>
    /// A bearer token sent to the registry as is (<c>Authorization: Bearer …</c>), without asking its token server;
    /// CRI's <c>registry_token</c>.
    /// </summary>
    /// <value>Default <see langword="null"/>.</value>
    public string? RegistryToken { get; init; }

    /// <summary>
    /// Where these credentials came from, for error messages and logs: e.g. <c>/root/.docker/config.json (auths)</c>,
    /// <c>credential helper docker-credential-ecr-login</c>, <c>the CRI pull of image r.example/app:v1</c>. Never a secret.
    /// </summary>
    /// <value>Default <see langword="null"/>: the client names the place it found them (e.g. <c>RegistryOptions.CredentialSource</c>).</value>
    public string? Source { get; init; }

    internal bool HasPassword => !string.IsNullOrEmpty(Username) && Password is not null;

    /// <summary>Equal when they hold the same secrets, wherever they came from (<see cref="Source"/> is a description).</summary>
    public bool Equals(RegistryCredentials? other)
        => other is not null && Username == other.Username && Password == other.Password
           && IdentityToken == other.IdentityToken && RegistryToken == other.RegistryToken;

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(Username, Password, IdentityToken, RegistryToken);

    /// <summary>
    /// A short one-way digest of the secrets: tells two credentials apart (a token fetched with one is not used for the
    /// other) without keeping or printing them.
    /// </summary>
    internal string Fingerprint()
    {
        string joined = string.Join('\0', Username, Password, IdentityToken, RegistryToken);
        return Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(Encoding.UTF8.GetBytes(joined)), 0, 12);
    }

    internal string BasicParameter => Convert.ToBase64String(Encoding.UTF8.GetBytes($"{Username}:{Password}"));

    /// <summary>Names the user only: credentials are never printed.</summary>
    public override string ToString() => $"credentials for '{Username}'";
}

/// <summary>
/// Reads the <c>auths</c> section of docker's <c>config.json</c>: per registry key either <c>auth</c>
/// (base64 of <c>user:password</c>), or <c>username</c>/<c>password</c>, and optionally <c>identitytoken</c>.
/// A host without an entry is asked of the credential helper the file names for it (<see cref="ParseHelpers"/>,
/// <see cref="DockerCredentialHelper"/>).
/// </summary>
internal static class DockerConfigCredentials
{
    /// <summary>The largest config.json read.</summary>
    public const int MaxConfigBytes = 1024 * 1024;

    /// <summary>The key docker uses for Docker Hub.</summary>
    public const string DockerHubKey = "https://index.docker.io/v1/";

    /// <summary>The default location: <c>$DOCKER_CONFIG/config.json</c>, else <c>~/.docker/config.json</c>.</summary>
    public static string DefaultPath()
    {
        string? dir = Environment.GetEnvironmentVariable("DOCKER_CONFIG");
        if (string.IsNullOrEmpty(dir))
        {
            dir = Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".docker");
        }

        return Path.Combine(dir, "config.json");
    }

    /// <summary>Loads the file; a missing file gives no credentials; a malformed one throws <see cref="FormatException"/>.</summary>
    public static IReadOnlyDictionary<string, RegistryCredentials> Load(string path)
    {
        byte[] bytes;
        try
        {
            using var file = File.OpenRead(path);
            if (file.Length > MaxConfigBytes)
            {
                throw new FormatException($"Docker config '{path}' is over {MaxConfigBytes} bytes.");
            }

            bytes = new byte[file.Length];
            file.ReadExactly(bytes);
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
        {
            return new Dictionary<string, RegistryCredentials>();
        }

        return Parse(bytes, path);
    }

    /// <summary>
    /// Parses config.json, returning credentials keyed by normalized host (<c>docker.io</c> for Docker Hub's keys,
    /// otherwise the host[:port] of keys such as <c>host</c>, <c>https://host</c>, <c>https://host/v1/</c>).
    /// </summary>
    public static IReadOnlyDictionary<string, RegistryCredentials> Parse(ReadOnlySpan<byte> json, string source = "config.json")
    {
        if (json.Length > MaxConfigBytes)
        {
            throw new FormatException($"Docker config '{source}' is over {MaxConfigBytes} bytes.");
        }

        var result = new Dictionary<string, RegistryCredentials>(StringComparer.OrdinalIgnoreCase);
        try
        {
            var reader = new Utf8JsonReader(json, new JsonReaderOptions { MaxDepth = 16, CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
            using var document = JsonDocument.ParseValue(ref reader);
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                throw new FormatException($"Docker config '{source}' is not a JSON object.");
            }

            if (!document.RootElement.TryGetProperty("auths", out var auths) || auths.ValueKind != JsonValueKind.Object)
            {
                return result;
            }

            foreach (var entry in auths.EnumerateObject())
            {
                if (entry.Value.ValueKind != JsonValueKind.Object)
                {
                    continue;
                }

                string? host = NormalizeKey(entry.Name);
                if (host is null)
                {
                    continue;
                }

                string? username = String(entry.Value, "username");
                string? password = String(entry.Value, "password");
                string? identity = String(entry.Value, "identitytoken");
                if (String(entry.Value, "auth") is { Length: > 0 } auth)
                {
                    (username, password) = DecodeAuth(auth, entry.Name, source);
                }

                if (string.IsNullOrEmpty(username) && string.IsNullOrEmpty(identity))
                {
                    continue;
                }

                var credentials = new RegistryCredentials(username, password, string.IsNullOrEmpty(identity) ? null : identity);
                // Docker prefers the exact key; with several keys for one host, the first wins.
                result.TryAdd(host, credentials);
            }
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException)
        {
            // InvalidOperationException: a string that is not valid UTF-8.
            throw new FormatException($"Docker config '{source}' is not valid JSON: {ex.Message}", ex);
        }

        return result;
    }

    /// <summary>
    /// The credential helpers config.json names: <c>credHelpers</c> per normalized host, and <c>credsStore</c> for the
    /// rest; names that are not valid helper names are left out. A malformed document names none.
    /// </summary>
    public static (IReadOnlyDictionary<string, string> PerHost, string? Default) ParseHelpers(ReadOnlySpan<byte> json)
    {
        var perHost = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        if (json.Length > MaxConfigBytes)
        {
            return (perHost, null);
        }

        try
        {
            var reader = new Utf8JsonReader(json, new JsonReaderOptions { MaxDepth = 16, CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
            using var document = JsonDocument.ParseValue(ref reader);
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                return (perHost, null);
            }

            if (root.TryGetProperty("credHelpers", out var helpers) && helpers.ValueKind == JsonValueKind.Object)
            {
                foreach (var entry in helpers.EnumerateObject())
                {
                    if (entry.Value.ValueKind == JsonValueKind.String && NormalizeKey(entry.Name) is { } host && Valid(entry.Value.GetString()) is { } name)
                    {
                        perHost.TryAdd(host, name);
                    }
                }
            }

            return (perHost, Valid(String(root, "credsStore")));
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException)
        {
            return (perHost, null);
        }
    }

    private static string? Valid(string? helper) => helper is not null && DockerCredentialHelper.IsValidName(helper) ? helper : null;

    /// <summary>Maps a key of <c>auths</c> to the registry host it names, or null when it names none.</summary>
    public static string? NormalizeKey(string key)
    {
        string host = key.Trim();
        if (host.StartsWith("https://", StringComparison.OrdinalIgnoreCase))
        {
            host = host[8..];
        }
        else if (host.StartsWith("http://", StringComparison.OrdinalIgnoreCase))
        {
            host = host[7..];
        }

        int slash = host.IndexOf('/');
        if (slash >= 0)
        {
            host = host[..slash];
        }

        if (host.Length == 0 || host.Length > 255)
        {
            return null;
        }

        return host.ToLowerInvariant() switch
        {
            "index.docker.io" or "registry-1.docker.io" or "docker.io" => ImageReference.DockerHub,
            _ => host,
        };
    }

    private static (string User, string Password) DecodeAuth(string auth, string key, string source)
    {
        byte[] decoded;
        try
        {
            decoded = Convert.FromBase64String(auth.Trim());
        }
        catch (FormatException ex)
        {
            throw new FormatException($"Docker config '{source}': auths[\"{key}\"].auth is not base64.", ex);
        }

        string text = Encoding.UTF8.GetString(decoded);
        int colon = text.IndexOf(':');
        if (colon <= 0)
        {
            throw new FormatException($"Docker config '{source}': auths[\"{key}\"].auth is not user:password.");
        }

        return (text[..colon], text[(colon + 1)..].TrimEnd('\0'));
    }

    private static string? String(JsonElement element, string name)
        => element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;
}

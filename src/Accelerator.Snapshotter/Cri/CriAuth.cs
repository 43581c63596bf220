using System.Text;
using Accelerator.Containerd.Api.Cri;
using Accelerator.Oci.Registry;

namespace Accelerator.Snapshotter.Cri;

/// <summary>
/// Reads a CRI <see cref="AuthConfig"/> the way containerd's CRI plugin does (<c>ParseAuth</c> in its image pull):
/// ignored when its <c>server_address</c> names another registry than the image's; otherwise user name and password,
/// else an identity token, else docker's base64 <c>auth</c> (<c>user:password</c>); a registry token travels as is.
/// </summary>
internal static class CriAuth
{
    /// <summary>The longest field accepted (a password, a token); JWTs from cloud registries stay well below.</summary>
    public const int MaxFieldLength = 16 * 1024;

    // Docker Hub's other names: kubelet's keyring uses https://index.docker.io/v1/ for it.
    private static readonly string[] DockerHubAliases = ["docker.io", "index.docker.io", "registry-1.docker.io"];

    /// <summary>What kind of credential <paramref name="credentials"/> is, for logs (never its value).</summary>
    public static string Describe(RegistryCredentials credentials)
        => credentials.RegistryToken is not null ? "registry token"
            : credentials.IdentityToken is not null ? "identity token"
            : "user name and password";

    /// <summary>
    /// The credentials <paramref name="auth"/> gives for <paramref name="registry"/>, or <see langword="null"/> when it
    /// gives none or names another registry.
    /// </summary>
    /// <exception cref="FormatException">A field is too long, or <c>auth</c> is not base64 of <c>user:password</c>.</exception>
    public static RegistryCredentials? Parse(AuthConfig? auth, string registry)
    {
        if (auth is null)
        {
            return null;
        }

        foreach (string field in new[] { auth.Username, auth.Password, auth.Auth, auth.ServerAddress, auth.IdentityToken, auth.RegistryToken })
        {
            if (field.Length > MaxFieldLength)
            {
                throw new FormatException($"An auth field is longer than {MaxFieldLength} characters.");
            }
        }

        if (auth.ServerAddress.Length > 0 && !SameRegistry(HostOf(auth.ServerAddress), registry))
        {
            return null;
        }

        string? registryToken = auth.RegistryToken.Length > 0 ? auth.RegistryToken : null;
        if (registryToken is not null && registryToken.Any(c => c is <= (char)0x20 or >= (char)0x7f))
        {
            throw new FormatException("The registry token has characters a bearer token cannot have.");
        }

        if (auth.Username.Length > 0)
        {
            return new RegistryCredentials(auth.Username, auth.Password, null) { RegistryToken = registryToken };
        }

        if (auth.IdentityToken.Length > 0)
        {
            return new RegistryCredentials(null, null, auth.IdentityToken) { RegistryToken = registryToken };
        }

        if (auth.Auth.Length > 0)
        {
            string decoded;
            try
            {
                decoded = Encoding.UTF8.GetString(Convert.FromBase64String(auth.Auth));
            }
            catch (FormatException)
            {
                throw new FormatException("The auth field is not base64.");
            }

            int colon = decoded.IndexOf(':', StringComparison.Ordinal);
            if (colon <= 0)
            {
                throw new FormatException("The auth field is not base64 of user:password.");
            }

            return new RegistryCredentials(decoded[..colon], decoded[(colon + 1)..], null) { RegistryToken = registryToken };
        }

        return registryToken is null ? null : new RegistryCredentials(null, null, null) { RegistryToken = registryToken };
    }

    // containerd takes Go's url.Parse(server_address).Host: the authority of "https://host:port/v1/"; an address
    // without a scheme has no host there, so it matches no registry.
    private static string? HostOf(string serverAddress)
    {
        int scheme = serverAddress.IndexOf("://", StringComparison.Ordinal);
        if (scheme <= 0)
        {
            return null;
        }

        string rest = serverAddress[(scheme + 3)..];
        int end = rest.IndexOfAny(['/', '?', '#']);
        string authority = end < 0 ? rest : rest[..end];
        return authority[(authority.LastIndexOf('@') + 1)..];
    }

    private static bool SameRegistry(string? host, string registry)
        => host is not null
            && (string.Equals(host, registry, StringComparison.OrdinalIgnoreCase)
                || (DockerHubAliases.Contains(host, StringComparer.OrdinalIgnoreCase) && DockerHubAliases.Contains(registry, StringComparer.OrdinalIgnoreCase)));
}

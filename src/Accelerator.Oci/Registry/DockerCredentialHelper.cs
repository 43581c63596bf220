using System.ComponentModel;
using System.Diagnostics;
using System.Text;
using System.Text.Json;

namespace Accelerator.Oci.Registry;

/// <summary>
/// Asks a docker credential helper for a registry's credentials, as docker does for <c>credsStore</c> and
/// <c>credHelpers</c>: runs <c>docker-credential-NAME get</c> (found on <c>PATH</c>) with the server address on standard
/// input and reads <c>{"ServerURL", "Username", "Secret"}</c> from standard output (docker-credential-helpers protocol).
/// A user name of <c>&lt;token&gt;</c> makes the secret an identity (refresh) token.
/// </summary>
internal static class DockerCredentialHelper
{
    /// <summary>The longest answer read.</summary>
    public const int MaxOutputChars = 64 * 1024;

    /// <summary>How long a helper may take (it may ask a keychain or a cloud metadata service).</summary>
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Whether <paramref name="name"/> can be a helper name: letters, digits, <c>-</c>, <c>_</c> and <c>.</c>, so that
    /// <c>docker-credential-NAME</c> is a program name on <c>PATH</c> and never a path.
    /// </summary>
    public static bool IsValidName(string name)
        => name.Length is > 0 and <= 64 && name[0] != '.' && name.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.');

    /// <summary>
    /// The server address docker hands a helper for <paramref name="registry"/>: Docker Hub's legacy key for
    /// <c>docker.io</c>, else the <c>host[:port]</c> itself.
    /// </summary>
    public static string ServerAddress(string registry)
        => registry.Equals(ImageReference.DockerHub, StringComparison.OrdinalIgnoreCase) ? DockerConfigCredentials.DockerHubKey : registry;

    /// <summary>
    /// The credentials helper <paramref name="name"/> holds for <paramref name="registry"/>; null when it has none, cannot
    /// be run, takes longer than <see cref="Timeout"/> or answers with something else than the protocol's JSON.
    /// </summary>
    public static RegistryCredentials? Get(string name, string registry)
    {
        if (!IsValidName(name))
        {
            return null;
        }

        var start = new ProcessStartInfo("docker-credential-" + name)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            StandardInputEncoding = new UTF8Encoding(false),
        };
        start.ArgumentList.Add("get");
        Process? process;
        try
        {
            process = Process.Start(start);
        }
        catch (Win32Exception)
        {
            // Not installed: docker reports the same as "no credentials".
            return null;
        }

        if (process is null)
        {
            return null;
        }

        using (process)
        {
            var output = process.StandardOutput.ReadToEndAsync();
            // Its error text ("credentials not found in native keychain") is read and dropped: it is not ours to echo.
            _ = process.StandardError.ReadToEndAsync();
            try
            {
                process.StandardInput.Write(ServerAddress(registry));
                process.StandardInput.Close();
            }
            catch (IOException)
            {
                // It exited without reading its input; its exit code says the rest.
            }

            if (!process.WaitForExit(Timeout))
            {
                process.Kill(entireProcessTree: true);
                return null;
            }

            process.WaitForExit();
            return process.ExitCode == 0 ? Parse(output.GetAwaiter().GetResult()) : null;
        }
    }

    /// <summary>Reads a helper's answer; null when it is not the protocol's JSON or holds no user name and secret.</summary>
    public static RegistryCredentials? Parse(string answer)
    {
        if (answer.Length > MaxOutputChars)
        {
            return null;
        }

        try
        {
            using var document = JsonDocument.Parse(answer, new JsonDocumentOptions { MaxDepth = 4 });
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                return null;
            }

            string? username = String(document.RootElement, "Username");
            string? secret = String(document.RootElement, "Secret");
            if (string.IsNullOrEmpty(username) || string.IsNullOrEmpty(secret))
            {
                return null;
            }

            return username == "<token>"
                ? new RegistryCredentials(username, null, secret)
                : new RegistryCredentials(username, secret, null);
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static string? String(JsonElement element, string name)
        => element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;
}

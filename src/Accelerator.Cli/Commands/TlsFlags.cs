using System.CommandLine;
using Accelerator.Hosting;

namespace Accelerator.Cli.Commands;

/// <summary><c>--tls-cert</c>, <c>--tls-key</c> and <c>--tls-client-ca</c>: TLS for a daemon's https:// listeners.</summary>
internal sealed class ListenerTlsFlags
{
    public Option<string?> Certificate { get; } = new("--tls-cert") { Description = "Serve https:// listeners with this PEM certificate (re-read when the file changes).", HelpName = "FILE" };

    public Option<string?> Key { get; } = new("--tls-key") { Description = "The PEM private key of --tls-cert.", HelpName = "FILE" };

    public Option<string?> ClientAuthority { get; } = new("--tls-client-ca") { Description = "Require client certificates issued by a CA in this PEM file (mutual TLS).", HelpName = "FILE" };

    public IEnumerable<Option> All => [Certificate, Key, ClientAuthority];

    /// <summary>The listener TLS options the flags name, or null when none is given.</summary>
    public ListenerTlsOptions? Read(ParseResult result)
    {
        string? certificate = result.GetValue(Certificate);
        string? key = result.GetValue(Key);
        string? authority = result.GetValue(ClientAuthority);
        if (certificate is null && key is null && authority is null)
        {
            return null;
        }

        if (certificate is null || key is null)
        {
            throw new FormatException("--tls-cert and --tls-key go together (and --tls-client-ca needs them).");
        }

        var tls = new ListenerTlsOptions { CertificateFile = certificate, KeyFile = key, ClientCertificateAuthorityFile = authority };
        tls.Validate();
        return tls;
    }

    /// <summary>
    /// The TLS options for a second listener (the peer's proxy) sharing the flags: <paramref name="tls"/> for https, none
    /// for http (or one clear error).
    /// </summary>
    public static ListenerTlsOptions? For(string option, Uri listen, ListenerTlsOptions? tls)
        => listen.Scheme == Uri.UriSchemeHttps
            ? tls ?? throw new FormatException($"{option}: {listen} is https: give --tls-cert FILE and --tls-key FILE.")
            : null;
}

/// <summary><c>--tls-ca</c>, <c>--tls-client-cert</c> and <c>--tls-client-key</c>: TLS of a peer's requests to schedulers and peers.</summary>
internal sealed class ClientTlsFlags
{
    public Option<string?> Authority { get; } = new("--tls-ca") { Description = "Trust schedulers and peers whose certificate chains to a CA in this PEM file (default: the system's roots).", HelpName = "FILE" };

    public Option<string?> Certificate { get; } = new("--tls-client-cert") { Description = "The PEM client certificate presented to schedulers and peers that require one (default: --tls-cert).", HelpName = "FILE" };

    public Option<string?> Key { get; } = new("--tls-client-key") { Description = "The PEM private key of --tls-client-cert (default: --tls-key).", HelpName = "FILE" };

    public IEnumerable<Option> All => [Authority, Certificate, Key];

    /// <summary>The client TLS options; the client certificate defaults to the listener's (<paramref name="server"/>).</summary>
    public ClientTlsOptions? Read(ParseResult result, ListenerTlsOptions? server)
    {
        string? authority = result.GetValue(Authority);
        string? certificate = result.GetValue(Certificate);
        string? key = result.GetValue(Key);
        if ((certificate is null) != (key is null))
        {
            throw new FormatException("--tls-client-cert and --tls-client-key go together.");
        }

        certificate ??= server?.CertificateFile;
        key ??= server?.KeyFile;
        if (authority is null && certificate is null)
        {
            return null;
        }

        var tls = new ClientTlsOptions { CertificateAuthorityFile = authority, CertificateFile = certificate, KeyFile = key };
        tls.Validate();
        return tls;
    }
}

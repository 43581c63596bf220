using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;

namespace Accelerator.Hosting;

/// <summary>
/// TLS for a listener (<c>https://</c> URLs): a PEM certificate and key, re-read when either file changes (a renewed
/// certificate is served from the next handshake on, without a restart), and optionally a certificate authority whose
/// client certificates the listener requires (mutual TLS). Checked by <see cref="ListenerTlsOptionsValidator"/>.
/// </summary>
public sealed class ListenerTlsOptions : IValidatableObject
{
    /// <summary>The server certificate, PEM (the leaf first; intermediates may follow). Required.</summary>
    public string? CertificateFile { get; set; }

    /// <summary>The certificate's private key, PEM (PKCS#8, PKCS#1 or SEC1). Required.</summary>
    public string? KeyFile { get; set; }

    /// <summary>
    /// When set, every client must present a certificate issued by one of the certificate authorities in this PEM file
    /// (and valid now, for client authentication); a handshake without one fails.
    /// <value>Default: null, no client certificates asked for.</value>
    /// </summary>
    public string? ClientCertificateAuthorityFile { get; set; }

    /// <summary>
    /// Checks the options with <see cref="ListenerTlsOptionsValidator"/> and throws <see cref="ArgumentException"/> naming
    /// what is missing or unreadable.
    /// </summary>
    public void Validate()
    {
        if (new ListenerTlsOptionsValidator().Validate(Options.DefaultName, this) is { Failed: true } result)
        {
            throw new ArgumentException(result.FailureMessage);
        }
    }

    /// <summary>The rules: a certificate and a key file, and every file named exists.</summary>
    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (string.IsNullOrEmpty(CertificateFile) || string.IsNullOrEmpty(KeyFile))
        {
            yield return new ValidationResult("TLS needs a certificate and a key file (--tls-cert FILE --tls-key FILE).");
        }

        foreach (string? file in new[] { CertificateFile, KeyFile, ClientCertificateAuthorityFile })
        {
            if (!string.IsNullOrEmpty(file) && !File.Exists(file))
            {
                yield return new ValidationResult($"TLS: '{file}' does not exist.");
            }
        }
    }

    /// <summary>
    /// Checks that <paramref name="listen"/> and <paramref name="tls"/> agree: an <c>https://</c> URL needs TLS options
    /// and TLS options need an <c>https://</c> URL. Returns the problem, or null.
    /// </summary>
    public static string? CheckScheme(Uri? listen, ListenerTlsOptions? tls)
    {
        if (listen is null || !listen.IsAbsoluteUri || (listen.Scheme != Uri.UriSchemeHttp && listen.Scheme != Uri.UriSchemeHttps))
        {
            return $"the listen address must be an http:// or https:// URL, not '{listen}'";
        }

        if (listen.Scheme == Uri.UriSchemeHttps && tls is null)
        {
            return $"{listen} is https: give a certificate and key (--tls-cert, --tls-key)";
        }

        if (listen.Scheme == Uri.UriSchemeHttp && tls is not null)
        {
            return $"a certificate is given but {listen} is plain http: listen on an https:// URL";
        }

        return null;
    }
}

/// <summary>Validates <see cref="ListenerTlsOptions"/> (generated from its rules).</summary>
[OptionsValidator]
public sealed partial class ListenerTlsOptionsValidator : IValidateOptions<ListenerTlsOptions>
{
}

using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;

namespace Accelerator.Hosting;

/// <summary>
/// TLS for a client of our own daemons (a peer talking to schedulers and other peers): which certificate authorities
/// to trust instead of the system's, and a client certificate to present for mutual TLS. The client certificate is
/// re-read when its files change. Checked by <see cref="ClientTlsOptionsValidator"/>.
/// </summary>
public sealed class ClientTlsOptions : IValidatableObject
{
    /// <summary>
    /// Trust only servers whose certificate chains to a certificate authority in this PEM file (and whose name matches
    /// the URL). <value>Default: null, the system's trusted roots.</value>
    /// </summary>
    public string? CertificateAuthorityFile { get; set; }

    /// <summary>The client certificate presented to servers that ask for one, PEM. <value>Default: null, none.</value></summary>
    public string? CertificateFile { get; set; }

    /// <summary>The client certificate's private key, PEM. Required with <see cref="CertificateFile"/>.</summary>
    public string? KeyFile { get; set; }

    /// <summary>
    /// Checks the options with <see cref="ClientTlsOptionsValidator"/> and throws <see cref="ArgumentException"/> naming
    /// what is missing or unreadable.
    /// </summary>
    public void Validate()
    {
        if (new ClientTlsOptionsValidator().Validate(Options.DefaultName, this) is { Failed: true } result)
        {
            throw new ArgumentException(result.FailureMessage);
        }
    }

    /// <summary>The rules: a client certificate comes with its key, and every file named exists.</summary>
    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if ((CertificateFile is null) != (KeyFile is null))
        {
            yield return new ValidationResult("A client certificate needs both its certificate and key file (--tls-client-cert FILE --tls-client-key FILE).");
        }

        foreach (string? file in new[] { CertificateAuthorityFile, CertificateFile, KeyFile })
        {
            if (file is not null && !File.Exists(file))
            {
                yield return new ValidationResult($"TLS: '{file}' does not exist.");
            }
        }
    }

    /// <summary>Sets up <paramref name="handler"/>'s TLS: the trusted authorities and the client certificate (re-read on change).</summary>
    public void ApplyTo(System.Net.Http.SocketsHttpHandler handler)
    {
        Validate();
        if (CertificateAuthorityFile is not null)
        {
            handler.SslOptions.RemoteCertificateValidationCallback = CertificateTrust.ServerValidator(CertificateTrust.LoadAuthorities(CertificateAuthorityFile));
        }

        if (CertificateFile is not null)
        {
            var certificate = new ReloadingCertificate(CertificateFile, KeyFile!);
            handler.SslOptions.LocalCertificateSelectionCallback = (_, _, _, _, _) => certificate.Current;
        }
    }
}

/// <summary>Validates <see cref="ClientTlsOptions"/> (generated from its rules).</summary>
[OptionsValidator]
public sealed partial class ClientTlsOptionsValidator : IValidateOptions<ClientTlsOptions>
{
}

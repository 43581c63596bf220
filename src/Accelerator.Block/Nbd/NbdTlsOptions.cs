using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Accelerator.Block.Nbd;

/// <summary>
/// TLS for an <see cref="NbdServer"/> (NBD <c>NBD_OPT_STARTTLS</c>): the server's certificate and, optionally, the
/// certificate authorities a client certificate must chain to. A server with TLS runs in the specification's
/// FORCEDTLS mode: every option but <c>STARTTLS</c> and <c>ABORT</c> is refused until TLS is up.
/// </summary>
public sealed class NbdTlsOptions
{
    private readonly SslStreamCertificateContext _context;

    /// <summary>Creates TLS options from a certificate with its private key.</summary>
    /// <param name="certificate">The server certificate; it must carry its private key.</param>
    /// <param name="intermediates">Certificates sent with it so clients can build the chain (may be empty).</param>
    /// <param name="clientCertificateAuthorities">
    /// When not null, a client must present a certificate that chains to one of these; otherwise none is asked for.
    /// </param>
    /// <exception cref="ArgumentException">The certificate has no private key, or the authority list is empty.</exception>
    public NbdTlsOptions(X509Certificate2 certificate, X509Certificate2Collection? intermediates = null, X509Certificate2Collection? clientCertificateAuthorities = null)
    {
        ArgumentNullException.ThrowIfNull(certificate);
        if (!certificate.HasPrivateKey)
        {
            throw new ArgumentException("The NBD server certificate has no private key.", nameof(certificate));
        }

        if (clientCertificateAuthorities is { Count: 0 })
        {
            throw new ArgumentException("The list of client certificate authorities is empty.", nameof(clientCertificateAuthorities));
        }

        Certificate = certificate;
        ClientCertificateAuthorities = clientCertificateAuthorities;
        _context = SslStreamCertificateContext.Create(certificate, intermediates ?? [], offline: true);
    }

    /// <summary>The server certificate (with its private key).</summary>
    public X509Certificate2 Certificate { get; }

    /// <summary>The authorities a client certificate must chain to; null when clients are not asked for one.</summary>
    public X509Certificate2Collection? ClientCertificateAuthorities { get; }

    /// <summary>Whether a client must present a certificate.</summary>
    public bool RequiresClientCertificate => ClientCertificateAuthorities is not null;

    /// <summary>
    /// Loads PEM files: <paramref name="certificatePath"/> (the server certificate, then any intermediates),
    /// <paramref name="keyPath"/> (its private key) and, optionally, <paramref name="clientCaPath"/> (the authorities
    /// client certificates must chain to).
    /// </summary>
    /// <exception cref="FileNotFoundException">A file does not exist.</exception>
    /// <exception cref="CryptographicException">A file is not a PEM certificate or key, or the key does not match.</exception>
    public static NbdTlsOptions FromPemFiles(string certificatePath, string keyPath, string? clientCaPath = null)
    {
        foreach (string? path in new[] { certificatePath, keyPath, clientCaPath })
        {
            if (path is not null && !File.Exists(path))
            {
                throw new FileNotFoundException($"The TLS file {path} does not exist.", path);
            }
        }

        var certificate = X509Certificate2.CreateFromPemFile(certificatePath, keyPath);
        var chain = new X509Certificate2Collection();
        chain.ImportFromPemFile(certificatePath);
        var intermediates = new X509Certificate2Collection();
        foreach (var extra in chain)
        {
            if (extra.Thumbprint != certificate.Thumbprint)
            {
                intermediates.Add(extra);
            }
        }

        X509Certificate2Collection? authorities = null;
        if (clientCaPath is not null)
        {
            authorities = [];
            authorities.ImportFromPemFile(clientCaPath);
            if (authorities.Count == 0)
            {
                throw new CryptographicException($"{clientCaPath} holds no PEM certificate.");
            }
        }

        return new NbdTlsOptions(certificate, intermediates, authorities);
    }

    /// <summary>The options of one connection's TLS handshake: TLS 1.2 or later, client certificates as configured.</summary>
    internal SslServerAuthenticationOptions CreateAuthenticationOptions() => new()
    {
        ServerCertificateContext = _context,
        // "NBD implementations supporting TLS MUST support TLS version 1.2 ... SHOULD NOT [support older versions] by default."
        EnabledSslProtocols = SslProtocols.Tls12 | SslProtocols.Tls13,
        ClientCertificateRequired = RequiresClientCertificate,
        CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
        RemoteCertificateValidationCallback = ValidateClientCertificate,
    };

    // Without client authorities no certificate is asked for and any client is accepted (TLS then only encrypts and
    // authenticates the server); with them, the client's certificate must chain to one of them, and to nothing else.
    private bool ValidateClientCertificate(object sender, X509Certificate? certificate, X509Chain? chain, SslPolicyErrors errors)
    {
        if (ClientCertificateAuthorities is not { } authorities)
        {
            return true;
        }

        if (certificate is null)
        {
            return false;
        }

        using var client = new X509Certificate2(certificate);
        using var custom = new X509Chain();
        custom.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        custom.ChainPolicy.CustomTrustStore.AddRange(authorities);
        custom.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        custom.ChainPolicy.ApplicationPolicy.Add(new Oid("1.3.6.1.5.5.7.3.2"));
        if (chain is not null)
        {
            custom.ChainPolicy.ExtraStore.AddRange(chain.ChainElements.Select(e => e.Certificate).ToArray());
        }

        return custom.Build(client);
    }
}

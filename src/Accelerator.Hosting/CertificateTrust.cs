using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Accelerator.Hosting;

/// <summary>
/// Chain checks against our own certificate authorities instead of the system's: for client certificates a listener
/// requires (mutual TLS) and for servers a client trusts through <see cref="ClientTlsOptions.CertificateAuthorityFile"/>.
/// </summary>
internal static class CertificateTrust
{
    private static readonly Oid ServerAuthentication = new("1.3.6.1.5.5.7.3.1");
    private static readonly Oid ClientAuthentication = new("1.3.6.1.5.5.7.3.2");

    /// <summary>The certificates of a PEM file of certificate authorities; throws <see cref="ArgumentException"/> when it holds none.</summary>
    public static X509Certificate2Collection LoadAuthorities(string file)
    {
        var authorities = new X509Certificate2Collection();
        try
        {
            authorities.ImportFromPemFile(file);
        }
        catch (Exception ex) when (ex is CryptographicException or IOException or UnauthorizedAccessException)
        {
            throw new ArgumentException($"TLS: cannot read certificate authorities from '{file}': {ex.Message}", ex);
        }

        return authorities.Count > 0 ? authorities : throw new ArgumentException($"TLS: '{file}' holds no PEM certificate.");
    }

    /// <summary>Whether <paramref name="certificate"/> chains to one of <paramref name="authorities"/>, valid now, for client authentication.</summary>
    public static bool IsTrustedClient(X509Certificate2? certificate, X509Certificate2Collection authorities)
        => certificate is not null && Chains(certificate, authorities, ClientAuthentication);

    /// <summary>
    /// A server check for <see cref="SslClientAuthenticationOptions.RemoteCertificateValidationCallback"/>: the name must
    /// match the URL and the chain must end at one of <paramref name="authorities"/>.
    /// </summary>
    public static RemoteCertificateValidationCallback ServerValidator(X509Certificate2Collection authorities)
        => (_, certificate, _, errors) =>
            certificate is not null
            && (errors & (SslPolicyErrors.RemoteCertificateNameMismatch | SslPolicyErrors.RemoteCertificateNotAvailable)) == 0
            && certificate is X509Certificate2 leaf
            && Chains(leaf, authorities, ServerAuthentication);

    private static bool Chains(X509Certificate2 certificate, X509Certificate2Collection authorities, Oid usage)
    {
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(authorities);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.ApplicationPolicy.Add(usage);
        return chain.Build(certificate);
    }
}

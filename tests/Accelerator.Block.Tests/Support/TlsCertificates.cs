using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Accelerator.Block.Tests.Support;

/// <summary>
/// A test certificate authority, a server certificate for 127.0.0.1/localhost and a client certificate, written as PEM
/// files in the layout qemu (<c>tls-creds-x509,dir=</c>) and libnbd (<c>tls-certificates=</c>) read: <c>ca-cert.pem</c>,
/// <c>client-cert.pem</c>, <c>client-key.pem</c>; the server's files and a second, unrelated authority sit beside them.
/// </summary>
internal sealed class TlsCertificates
{
    private TlsCertificates(string directory)
    {
        Directory = directory;
    }

    /// <summary>The client directory (CA, client certificate and key).</summary>
    public string ClientDirectory => Path.Combine(Directory, "client");

    /// <summary>A client directory with the CA only: the client presents no certificate.</summary>
    public string AnonymousClientDirectory => Path.Combine(Directory, "anonymous");

    /// <summary>A client directory whose client certificate was issued by another authority.</summary>
    public string ForeignClientDirectory => Path.Combine(Directory, "foreign");

    public string CaPath => Path.Combine(ClientDirectory, "ca-cert.pem");

    public string ServerCertificatePath => Path.Combine(Directory, "server-cert.pem");

    public string ServerKeyPath => Path.Combine(Directory, "server-key.pem");

    public string Directory { get; }

    public static TlsCertificates Create(string directory)
    {
        var result = new TlsCertificates(directory);
        foreach (string d in new[] { result.ClientDirectory, result.AnonymousClientDirectory, result.ForeignClientDirectory })
        {
            System.IO.Directory.CreateDirectory(d);
        }

        var now = DateTimeOffset.UtcNow;
        using var ca = CreateAuthority("CN=accel test CA", now);
        using var other = CreateAuthority("CN=someone else's CA", now);
        using (var server = Issue(ca, "CN=127.0.0.1", now, serverAuth: true))
        {
            File.WriteAllText(result.ServerCertificatePath, server.ExportCertificatePem());
            File.WriteAllText(result.ServerKeyPath, server.GetRSAPrivateKey()!.ExportPkcs8PrivateKeyPem());
        }

        WriteClient(result.ClientDirectory, ca, ca, now);
        File.WriteAllText(Path.Combine(result.AnonymousClientDirectory, "ca-cert.pem"), ca.ExportCertificatePem());
        WriteClient(result.ForeignClientDirectory, ca, other, now);
        return result;
    }

    private static void WriteClient(string directory, X509Certificate2 trusted, X509Certificate2 issuer, DateTimeOffset now)
    {
        File.WriteAllText(Path.Combine(directory, "ca-cert.pem"), trusted.ExportCertificatePem());
        using var client = Issue(issuer, "CN=accel test client", now, serverAuth: false);
        File.WriteAllText(Path.Combine(directory, "client-cert.pem"), client.ExportCertificatePem());
        File.WriteAllText(Path.Combine(directory, "client-key.pem"), client.GetRSAPrivateKey()!.ExportPkcs8PrivateKeyPem());
    }

    private static X509Certificate2 CreateAuthority(string subject, DateTimeOffset now)
    {
        using var key = RSA.Create(2048);
        var request = new CertificateRequest(subject, key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        return request.CreateSelfSigned(now.AddDays(-1), now.AddDays(30));
    }

    private static X509Certificate2 Issue(X509Certificate2 issuer, string subject, DateTimeOffset now, bool serverAuth)
    {
        var key = RSA.Create(2048);
        var request = new CertificateRequest(subject, key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.KeyEncipherment, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid(serverAuth ? "1.3.6.1.5.5.7.3.1" : "1.3.6.1.5.5.7.3.2")], false));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(issuer, true, false));
        if (serverAuth)
        {
            var names = new SubjectAlternativeNameBuilder();
            names.AddIpAddress(IPAddress.Loopback);
            names.AddDnsName("localhost");
            request.CertificateExtensions.Add(names.Build());
        }

        byte[] serial = RandomNumberGenerator.GetBytes(16);
        serial[0] &= 0x7F;
        using var certificate = request.Create(issuer, now.AddDays(-1), now.AddDays(30), serial);
        return certificate.CopyWithPrivateKey(key);
    }
}

using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Accelerator.Hosting;

/// <summary>
/// A certificate and key read from PEM files and read again when either file changes (its write time or length), checked
/// on every use, so that a renewed certificate is used from the next handshake on. A pair that cannot be loaded (a
/// rotation half done: the new certificate beside the old key) keeps the last good certificate until it can.
/// </summary>
internal sealed class ReloadingCertificate
{
    private readonly string _certificateFile;
    private readonly string _keyFile;
    private readonly object _lock = new();
    private X509Certificate2 _current;
    private Stamp _stamp;

    /// <summary>Loads the pair; throws <see cref="ArgumentException"/> naming the files when they cannot be loaded.</summary>
    public ReloadingCertificate(string certificateFile, string keyFile)
    {
        _certificateFile = certificateFile;
        _keyFile = keyFile;
        _stamp = Read();
        try
        {
            _current = X509Certificate2.CreateFromPemFile(certificateFile, keyFile);
        }
        catch (Exception ex) when (ex is CryptographicException or IOException or ArgumentException or UnauthorizedAccessException)
        {
            throw new ArgumentException($"TLS: cannot load the certificate '{certificateFile}' with the key '{keyFile}': {ex.Message}", ex);
        }
    }

    /// <summary>The certificate to use now (re-read first if a file changed).</summary>
    public X509Certificate2 Current
    {
        get
        {
            var stamp = Read();
            if (stamp == _stamp)
            {
                return _current;
            }

            lock (_lock)
            {
                if (stamp != _stamp)
                {
                    try
                    {
                        // The old certificate is not disposed: a handshake in flight may still use it.
                        _current = X509Certificate2.CreateFromPemFile(_certificateFile, _keyFile);
                        _stamp = stamp;
                    }
                    catch (Exception ex) when (ex is CryptographicException or IOException or ArgumentException or UnauthorizedAccessException)
                    {
                        // Keep serving the last good pair; the next handshake tries again.
                    }
                }

                return _current;
            }
        }
    }

    private Stamp Read()
    {
        var certificate = new FileInfo(_certificateFile);
        var key = new FileInfo(_keyFile);
        return new Stamp(
            certificate.Exists ? certificate.LastWriteTimeUtc : default,
            certificate.Exists ? certificate.Length : -1,
            key.Exists ? key.LastWriteTimeUtc : default,
            key.Exists ? key.Length : -1);
    }

    private readonly record struct Stamp(DateTime CertificateWritten, long CertificateLength, DateTime KeyWritten, long KeyLength);
}

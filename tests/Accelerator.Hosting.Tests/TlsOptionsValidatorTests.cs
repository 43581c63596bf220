using Microsoft.Extensions.Options;

namespace Accelerator.Hosting.Tests;

/// <summary>Listener and client TLS options are checked by generated validators; <c>Validate()</c> throws their failures.</summary>
public sealed class TlsOptionsValidatorTests : IDisposable
{
    private readonly string _existing = Path.GetTempFileName();

    [Fact]
    public void ListenerTlsValidator_KeyMissing_ReportsIt()
    {
        var result = new ListenerTlsOptionsValidator().Validate(Options.DefaultName, new ListenerTlsOptions { CertificateFile = _existing });

        Assert.True(result.Failed);
        Assert.Contains("TLS needs a certificate and a key file (--tls-cert FILE --tls-key FILE).", result.Failures!);
    }

    [Fact]
    public void ListenerTlsValidator_FilesMissing_ReportsEach()
    {
        var options = new ListenerTlsOptions { CertificateFile = _existing + ".cert", KeyFile = _existing, ClientCertificateAuthorityFile = _existing + ".ca" };

        var result = new ListenerTlsOptionsValidator().Validate(Options.DefaultName, options);

        Assert.Equal([$"TLS: '{_existing}.cert' does not exist.", $"TLS: '{_existing}.ca' does not exist."], result.Failures!);
    }

    [Fact]
    public void ListenerTlsValidate_ExistingFiles_Succeeds()
        => new ListenerTlsOptions { CertificateFile = _existing, KeyFile = _existing }.Validate();

    [Fact]
    public void ListenerTlsValidate_Invalid_ThrowsArgumentExceptionWithTheMessage()
    {
        var error = Assert.Throws<ArgumentException>(() => new ListenerTlsOptions { KeyFile = _existing }.Validate());

        Assert.Equal("TLS needs a certificate and a key file (--tls-cert FILE --tls-key FILE).", error.Message);
    }

    [Fact]
    public void ClientTlsValidator_CertificateWithoutKey_ReportsIt()
    {
        var result = new ClientTlsOptionsValidator().Validate(Options.DefaultName, new ClientTlsOptions { CertificateFile = _existing });

        Assert.Equal(["A client certificate needs both its certificate and key file (--tls-client-cert FILE --tls-client-key FILE)."], result.Failures!);
    }

    [Fact]
    public void ClientTlsValidate_AuthorityMissing_ThrowsArgumentException()
    {
        var error = Assert.Throws<ArgumentException>(() => new ClientTlsOptions { CertificateAuthorityFile = _existing + ".ca" }.Validate());

        Assert.Equal($"TLS: '{_existing}.ca' does not exist.", error.Message);
    }

    [Fact]
    public void ClientTlsValidator_Defaults_Succeeds()
        => Assert.True(new ClientTlsOptionsValidator().Validate(Options.DefaultName, new ClientTlsOptions()).Succeeded);

    public void Dispose() => File.Delete(_existing);
}

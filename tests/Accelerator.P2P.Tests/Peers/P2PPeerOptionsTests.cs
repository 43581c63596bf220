using System.ComponentModel.DataAnnotations;
using Accelerator.Hosting;
using Accelerator.Oci.Registry;
using Accelerator.P2P.Peers;
using Microsoft.Extensions.Options;

namespace Accelerator.P2P.Tests.Peers;

/// <summary>
/// The peer's options are checked by one generated validator that also runs the registry's and the TLS options'
/// validators; <c>Validate()</c> throws its failures.
/// </summary>
public sealed class P2PPeerOptionsTests
{
    [Fact]
    public void Validator_Valid_Succeeds()
        => Assert.True(new P2PPeerOptionsValidator().Validate(Options.DefaultName, Valid()).Succeeded);

    [Fact]
    public void Validator_SeedWithoutOperatorToken_ReportsIt()
    {
        var options = Valid();
        options.Seed = true;
        options.Schedulers.Add(new Uri("http://scheduler:65002"));

        var result = new P2PPeerOptionsValidator().Validate(Options.DefaultName, options);

        Assert.Equal(["A seed peer needs the scheduler's operator token (OperatorToken, --operator-token-file)."], result.Failures!);
    }

    [Fact]
    public void Validator_ProblemsInSeveralOptions_ReportsEach()
    {
        var options = Valid();
        options.DataDirectory = null;
        options.AdvertisedUrl = new Uri("ftp://peer");
        options.ClientTls = new ClientTlsOptions { CertificateFile = "/nonexistent/client.pem" };
        options.Registry = new RegistryOptions { MaxRetries = -1 };

        var failures = new P2PPeerOptionsValidator().Validate(Options.DefaultName, options).Failures!;

        Assert.Contains(failures, f => f.StartsWith("DataDirectory: ", StringComparison.Ordinal));
        Assert.Contains("AdvertisedUrl 'ftp://peer/' must be an absolute http(s) URL.", failures);
        Assert.Contains("A client certificate needs both its certificate and key file (--tls-client-cert FILE --tls-client-key FILE).", failures);
        Assert.Contains(failures, f => f.Contains("MaxRetries", StringComparison.Ordinal));
    }

    [Fact]
    public void Validate_BadPeerId_ThrowsValidationExceptionWithTheMessage()
    {
        var options = Valid();
        options.PeerId = "bad id";

        var error = Assert.Throws<ValidationException>(options.Validate);

        Assert.Equal("PeerId 'bad id' must be 1–128 characters of [A-Za-z0-9._:-].", error.Message);
    }

    private static P2PPeerOptions Valid() => new() { DataDirectory = "/tmp/peer" };
}

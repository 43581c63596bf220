using Accelerator.Hosting.Layout;
using Microsoft.Extensions.Options;

namespace Accelerator.Hosting.Tests.Layout;

/// <summary>The layout registry server's options are checked by one generated validator.</summary>
public sealed class OciLayoutRegistryServerOptionsTests
{
    [Fact]
    public void Validator_Defaults_Succeeds()
        => Assert.True(new OciLayoutRegistryServerOptionsValidator().Validate(Options.DefaultName, new OciLayoutRegistryServerOptions()).Succeeded);

    [Theory]
    [InlineData("http://127.0.0.1:0/path")]
    [InlineData("https://127.0.0.1:0")]
    [InlineData("ftp://127.0.0.1:0")]
    public void Validator_ListenNotAnHttpRoot_ReportsIt(string listen)
    {
        var result = new OciLayoutRegistryServerOptionsValidator().Validate(Options.DefaultName, new OciLayoutRegistryServerOptions { Listen = new Uri(listen) });

        Assert.Equal([$"Listen must be http://ADDRESS:PORT (https:// with Tls), not '{new Uri(listen)}'."], result.Failures!);
    }

    [Fact]
    public void Validator_TlsWithoutFiles_ReportsTheTlsProblem()
    {
        var options = new OciLayoutRegistryServerOptions { Listen = new Uri("https://127.0.0.1:0"), Tls = new ListenerTlsOptions() };

        var result = new OciLayoutRegistryServerOptionsValidator().Validate(Options.DefaultName, options);

        Assert.Contains("TLS needs a certificate and a key file (--tls-cert FILE --tls-key FILE).", result.Failures!);
    }
}

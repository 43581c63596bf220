using Accelerator.P2P.Proxy;
using Microsoft.Extensions.Options;

namespace Accelerator.P2P.Tests.Proxy;

/// <summary>The proxy's options are checked by one generated validator, in a host and through <c>Validate()</c>.</summary>
public sealed class RegistryMirrorProxyOptionsTests
{
    [Fact]
    public void Validator_LoopbackListener_Succeeds()
        => Assert.True(new RegistryMirrorProxyOptionsValidator().Validate(Options.DefaultName, new RegistryMirrorProxyOptions { Listen = new Uri("http://127.0.0.1:0") }).Succeeded);

    [Fact]
    public void Validator_NoListener_ReportsOnlyTheListenProblem()
    {
        var result = new RegistryMirrorProxyOptionsValidator().Validate(Options.DefaultName, new RegistryMirrorProxyOptions());

        Assert.Equal(["Proxy listen address: the listen address must be an http:// or https:// URL, not ''."], result.Failures!);
    }

    [Fact]
    public void Validator_LimitsOutOfRange_ReportsEach()
    {
        var options = new RegistryMirrorProxyOptions
        {
            Listen = new Uri("http://127.0.0.1:0"),
            MaxManifestBytes = 10,
            MaxConcurrentBlobRequests = 0,
            UpstreamTimeout = TimeSpan.Zero,
        };
        options.AllowedUpstreams.Add("not a host/");

        var failures = new RegistryMirrorProxyOptionsValidator().Validate(Options.DefaultName, options).Failures!;

        Assert.Contains("MaxManifestBytes must be between 1 KiB and 64 MiB.", failures);
        Assert.Contains("MaxConcurrentBlobRequests must be at least 1.", failures);
        Assert.Contains("UpstreamTimeout must be positive and AuthorizationCacheDuration not negative.", failures);
        Assert.Contains("AllowedUpstreams: every entry must be a registry host[:port].", failures);
    }

    [Fact]
    public void Validate_Invalid_ThrowsArgumentExceptionWithTheMessage()
    {
        var error = Assert.Throws<ArgumentException>(new RegistryMirrorProxyOptions { Listen = new Uri("http://127.0.0.1:0"), Upstream = "bad host" }.Validate);

        Assert.Equal("Upstream: 'bad host' is not a registry host[:port].", error.Message);
    }
}

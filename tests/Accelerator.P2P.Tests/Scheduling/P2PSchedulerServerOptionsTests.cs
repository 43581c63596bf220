using System.ComponentModel.DataAnnotations;
using Accelerator.Oci.Registry;
using Accelerator.P2P.Scheduling;
using Microsoft.Extensions.Options;

namespace Accelerator.P2P.Tests.Scheduling;

/// <summary>
/// The scheduler server's options are checked by one generated validator that also runs the scheduler's, the registry's
/// and the TLS options' validators; <c>Validate()</c> throws its failures.
/// </summary>
public sealed class P2PSchedulerServerOptionsTests
{
    [Fact]
    public void Validator_Defaults_Succeeds()
        => Assert.True(new P2PSchedulerServerOptionsValidator().Validate(Options.DefaultName, new P2PSchedulerServerOptions()).Succeeded);

    [Fact]
    public void Validator_NestedOptionsInvalid_ReportsTheirProblems()
    {
        var options = new P2PSchedulerServerOptions
        {
            Scheduler = new P2PSchedulerOptions { PeerTtl = TimeSpan.FromSeconds(1) },
            Registry = new RegistryOptions { MaxRetries = -1 },
            OperatorToken = "short",
        };

        var failures = new P2PSchedulerServerOptionsValidator().Validate(Options.DefaultName, options).Failures!;

        Assert.Contains("PeerTtl must be longer than HeartbeatInterval.", failures);
        Assert.Contains(failures, f => f.Contains("MaxRetries", StringComparison.Ordinal));
        Assert.Contains("OperatorToken must be at least 16 printable ASCII characters without spaces.", failures);
    }

    [Fact]
    public void Validator_HttpsWithoutTls_ReportsTheListenProblem()
    {
        var result = new P2PSchedulerServerOptionsValidator().Validate(Options.DefaultName, new P2PSchedulerServerOptions { Listen = new Uri("https://127.0.0.1:0") });

        Assert.Equal(["Listen: https://127.0.0.1:0/ is https: give a certificate and key (--tls-cert, --tls-key)."], result.Failures!);
    }

    [Fact]
    public void Validate_NullScheduler_ThrowsValidationException()
        => Assert.Throws<ValidationException>(new P2PSchedulerServerOptions { Scheduler = null! }.Validate);
}

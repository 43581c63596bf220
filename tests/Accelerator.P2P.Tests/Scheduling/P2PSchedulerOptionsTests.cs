using System.ComponentModel.DataAnnotations;
using Accelerator.P2P.Scheduling;
using Microsoft.Extensions.Options;

namespace Accelerator.P2P.Tests.Scheduling;

/// <summary>The scheduler's options are checked by one generated validator, in a host and through <c>Validate()</c>.</summary>
public sealed class P2PSchedulerOptionsTests
{
    [Fact]
    public void Validator_Defaults_Succeeds()
        => Assert.True(new P2PSchedulerOptionsValidator().Validate(Options.DefaultName, new P2PSchedulerOptions()).Succeeded);

    [Fact]
    public void Validator_RangeAndCrossFieldProblems_ReportsEach()
    {
        var options = new P2PSchedulerOptions { MaxTasks = 0, PeerTtl = TimeSpan.FromSeconds(1), TokenKey = new byte[8] };

        var result = new P2PSchedulerOptionsValidator().Validate(Options.DefaultName, options);

        Assert.True(result.Failed);
        Assert.Contains(result.Failures!, f => f.StartsWith("MaxTasks: ", StringComparison.Ordinal));
        Assert.Contains("PeerTtl must be longer than HeartbeatInterval.", result.Failures!);
        Assert.Contains("TokenKey must be at least 16 bytes.", result.Failures!);
    }

    [Fact]
    public void Validate_SameRulesAsTheValidator_ThrowsValidationExceptionNamingThem()
    {
        var error = Assert.Throws<ValidationException>(() => new P2PSchedulerOptions { TokenLifetime = TimeSpan.FromSeconds(1) }.Validate());

        Assert.Contains("TokenLifetime must be zero, or between four heartbeat intervals and 7 days.", error.Message, StringComparison.Ordinal);
    }
}

namespace Accelerator.Cli.Tests.Commands;

/// <summary>
/// <c>--fetch-timeout</c>, the lazy and block strategies' bound for reads while the registry is down or hung: offered by
/// every command that serves those strategies, and refused with one error line naming it when it is not a positive
/// duration (the behaviour itself is tested against a real registry in the integration tests, Issue15_RegistryOutageTests).
/// </summary>
public sealed class FetchTimeoutFlagTests
{
    [Theory]
    [InlineData("mount")]
    [InlineData("block", "serve")]
    [InlineData("snapshotter")]
    public async Task Help_CommandServingLazyOrBlock_ListsFetchTimeout(params string[] command)
    {
        var run = await Accel.RunAsync([.. command, "--help"]);

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Contains("--fetch-timeout ", run.Out, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("0", "mount", "oci:/nonexistent:v1", "/nonexistent")]
    [InlineData("soon", "mount", "oci:/nonexistent:v1", "/nonexistent")]
    [InlineData("-5s", "block", "serve", "--nbd", "unix:/nonexistent/s", "oci:/nonexistent:v1")]
    [InlineData("0", "snapshotter", "--address", "/nonexistent/accel-test/s.sock")]
    public async Task Run_FetchTimeoutNotAPositiveDuration_OneErrorLineNamingTheFlag(string value, params string[] command)
    {
        var run = await Accel.RunAsync([.. command, "--fetch-timeout", value]);

        Assert.Equal(1, run.ExitCode);
        string line = Assert.Single(run.ErrorLines);
        Assert.StartsWith("accel: error: --fetch-timeout: '", line);
    }
}

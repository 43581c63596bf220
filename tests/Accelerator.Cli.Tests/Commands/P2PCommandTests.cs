using Accelerator.Cli.Commands;

namespace Accelerator.Cli.Tests.Commands;

public sealed class P2PCommandTests
{
    [Theory]
    [InlineData("scheduler", "--listen", "ftp://127.0.0.1:1", "--listen")]
    [InlineData("scheduler", "--listen", "http://127.0.0.1:0/path", "--listen")]
    [InlineData("peer", "--listen", "not a url", "--listen")]
    public async Task RunAsync_BadListen_OneErrorLine(string command, string option, string value, string named)
    {
        string[] args = ["p2p", command, option, value];
        var run = await Accel.RunAsync(command == "peer" ? [.. args, "--data-dir", "/nonexistent/accel-p2p-test"] : args);

        Assert.Equal(1, run.ExitCode);
        Assert.Single(run.ErrorLines);
        Assert.Contains(named, run.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RunAsync_BadMemoryCache_OneErrorLine()
    {
        var run = await Accel.RunAsync("p2p", "peer", "--listen", "http://127.0.0.1:0", "--memory-cache", "-5M", "--data-dir", "/nonexistent/accel-p2p-test");

        Assert.Equal(1, run.ExitCode);
        Assert.Single(run.ErrorLines);
        Assert.Contains("--memory-cache", run.Error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("-1")]
    [InlineData("5")]
    [InlineData("604801")]
    public async Task RunAsync_BadTokenLifetime_OneErrorLine(string seconds)
    {
        var run = await Accel.RunAsync("p2p", "scheduler", "--listen", "http://127.0.0.1:0", "--token-lifetime", seconds);

        Assert.Equal(1, run.ExitCode);
        Assert.Single(run.ErrorLines);
        Assert.Contains("--token-lifetime", run.Error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--trust-registry", "not a host/")]
    [InlineData("--max-tasks", "0")]
    [InlineData("--max-peers", "-1")]
    [InlineData("--max-registrations-per-minute", "0")]
    [InlineData("--max-blob-size", "-5G")]
    public async Task RunAsync_SchedulerBadTrustOrLimit_OneErrorLine(string option, string value)
    {
        var run = await Accel.RunAsync("p2p", "scheduler", "--listen", "http://127.0.0.1:0", option, value);

        Assert.Equal(1, run.ExitCode);
        Assert.Single(run.ErrorLines);
        Assert.Contains(option, run.Error, StringComparison.Ordinal);
    }

    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public async Task RunAsync_OperatorTokenFileReadableByOthers_Refused()
    {
        string file = Path.Combine(Directory.CreateTempSubdirectory("accel-p2p-token-").FullName, "operator-token");
        try
        {
            await File.WriteAllTextAsync(file, "an-operator-token-of-enough-length\n");
            File.SetUnixFileMode(file, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.OtherRead);

            var run = await Accel.RunAsync("p2p", "scheduler", "--listen", "http://127.0.0.1:0", "--operator-token-file", file);

            Assert.Equal(1, run.ExitCode);
            Assert.Single(run.ErrorLines);
            Assert.Contains("readable or writable by others", run.Error, StringComparison.Ordinal);
            Assert.DoesNotContain("an-operator-token", run.Out + run.Error, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(Path.GetDirectoryName(file)!, recursive: true);
        }
    }

    [Fact]
    public async Task RunAsync_SeedWithoutOperatorToken_OneErrorLine()
    {
        var run = await Accel.RunAsync("p2p", "peer", "--listen", "http://127.0.0.1:0", "--scheduler", "http://127.0.0.1:1", "--seed", "--data-dir", "/nonexistent/accel-p2p-test");

        Assert.Equal(1, run.ExitCode);
        Assert.Single(run.ErrorLines);
        Assert.Contains("--operator-token-file", run.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RunAsync_UpstreamWithoutProxy_OneErrorLine()
    {
        var run = await Accel.RunAsync("p2p", "peer", "--listen", "http://127.0.0.1:0", "--upstream", "docker.io", "--data-dir", "/nonexistent/accel-p2p-test");

        Assert.Equal(1, run.ExitCode);
        Assert.Contains("--upstream needs --proxy", run.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RunAsync_PullWithBadP2PUrl_OneErrorLine()
    {
        var run = await Accel.RunAsync("pull", "--p2p", "ftp://x", "127.0.0.1:1/a:b", "/nonexistent/accel-p2p-target");

        Assert.Equal(1, run.ExitCode);
        Assert.Contains("--p2p", run.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void ParseLabels_HostRackZone_Locality()
    {
        var locality = P2PCommand.ParseLabels(["zone=eu-1,rack=r7", "host=node-3"]);

        Assert.Equal(("node-3", "r7", "eu-1"), (locality.Host, locality.Rack, locality.Zone));
    }

    [Theory]
    [InlineData("region=x")]
    [InlineData("zone=")]
    [InlineData("zone")]
    public void ParseLabels_Invalid_FormatException(string label)
    {
        Assert.Throws<FormatException>(() => P2PCommand.ParseLabels([label]));
    }
}

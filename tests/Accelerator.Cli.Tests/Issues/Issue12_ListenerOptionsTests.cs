namespace Accelerator.Cli.Tests.Issues;

/// <summary>Issue 12, B9 and B10: daemons refuse to start in an unsafe configuration, with one clear error line.</summary>
public sealed class Issue12_ListenerOptionsTests
{
    [Fact]
    public async Task ReplicateServe_NoTokenFile_RefusesToStart()
    {
        var run = await Accel.RunAsync("replicate", "serve", "--listen", "http://127.0.0.1:0", "--to", "127.0.0.1:1", "--from", "127.0.0.1:2", "--data-dir", "/nonexistent/accel-replicate-test");

        Assert.Equal(1, run.ExitCode);
        Assert.Single(run.ErrorLines);
        Assert.Contains("--auth-token-file", run.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ReplicateServe_InsecureNoAuthOnAllInterfaces_RefusesToStart()
    {
        var run = await Accel.RunAsync("replicate", "serve", "--listen", "http://0.0.0.0:0", "--insecure-no-auth", "--to", "127.0.0.1:1", "--from", "127.0.0.1:2", "--data-dir", "/nonexistent/accel-replicate-test");

        Assert.Equal(1, run.ExitCode);
        Assert.Single(run.ErrorLines);
        Assert.Contains("loopback", run.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ReplicateServe_NoSourceRegistry_RefusesToStart()
    {
        var run = await Accel.RunAsync("replicate", "serve", "--listen", "http://127.0.0.1:0", "--insecure-no-auth", "--to", "127.0.0.1:1", "--data-dir", "/nonexistent/accel-replicate-test");

        Assert.Equal(1, run.ExitCode);
        Assert.Single(run.ErrorLines);
        Assert.Contains("--from", run.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task P2PPeer_ProxyBeyondLoopbackWithoutAllowUpstream_RefusesToStart()
    {
        var run = await Accel.RunAsync("p2p", "peer", "--listen", "http://127.0.0.1:0", "--proxy", "http://0.0.0.0:0", "--upstream", "docker.io", "--data-dir", "/nonexistent/accel-p2p-test");

        Assert.Equal(1, run.ExitCode);
        Assert.Single(run.ErrorLines);
        Assert.Contains("--allow-upstream", run.Error, StringComparison.Ordinal);
    }
}

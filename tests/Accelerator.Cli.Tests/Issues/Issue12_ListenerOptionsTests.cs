using System.Runtime.Versioning;

namespace Accelerator.Cli.Tests.Issues;

/// <summary>Issue 12, B9 and B10: daemons refuse to start in an unsafe configuration, with one clear error line.</summary>
[SupportedOSPlatform("linux")]
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

    [Theory]
    [InlineData(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead)]
    [InlineData(UnixFileMode.UserRead | UnixFileMode.OtherRead)]
    public async Task P2PScheduler_TokenKeyFileReadableByOthers_RefusesToStart(UnixFileMode mode)
    {
        string key = Path.Combine(Directory.CreateTempSubdirectory("accel-key-").FullName, "token.key");
        try
        {
            await File.WriteAllBytesAsync(key, new byte[32]);
            File.SetUnixFileMode(key, mode);

            var run = await Accel.RunAsync("p2p", "scheduler", "--listen", "http://127.0.0.1:0", "--token-key-file", key);

            Assert.Equal(1, run.ExitCode);
            Assert.Single(run.ErrorLines);
            Assert.Contains("chmod 600", run.Error, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(Path.GetDirectoryName(key)!, recursive: true);
        }
    }

    [Theory]
    [InlineData("p2p", "scheduler")]
    [InlineData("replicate", "serve")]
    public async Task HttpsListen_WithoutCertificate_RefusesToStart(string command, string subcommand)
    {
        string[] args = [command, subcommand, "--listen", "https://127.0.0.1:0"];
        if (command == "replicate")
        {
            args = [.. args, "--to", "127.0.0.1:1", "--from", "127.0.0.1:2", "--insecure-no-auth", "--data-dir", "/nonexistent/accel-replicate-test"];
        }

        var run = await Accel.RunAsync(args);

        Assert.Equal(1, run.ExitCode);
        Assert.Single(run.ErrorLines);
        Assert.Contains("--tls-cert", run.Error, StringComparison.Ordinal);
    }
}

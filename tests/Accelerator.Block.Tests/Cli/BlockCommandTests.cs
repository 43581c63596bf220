using Accelerator.Block.Tests.Mounting;
using Accelerator.Block.Tests.Support;
using Accelerator.TestSupport;
using Accelerator.Testing.Trees;
using Accelerator.Testing;
using Accelerator.Testing.Processes;

namespace Accelerator.Block.Tests.Cli;

/// <summary><c>accel block serve</c> and <c>accel mount --strategy block</c>, run as the real program.</summary>
public sealed class BlockCommandTests(ConformanceImageFixture fixture) : IClassFixture<ConformanceImageFixture>
{
    private static Task<(int ExitCode, string Out, string Error)> RunAsync(params string[] args) => AccelInProcess.RunAsync(args);

    [Fact]
    public async Task BlockServe_RawFileOnUnixAndTcp_ClientsSeeTheImageUntilSigterm()
    {
        string socket = Path.Combine(fixture.Directory, "serve-" + Guid.NewGuid().ToString("N")[..8] + ".sock");
        int port = LoopbackPorts.Free();
        await using var accel = AccelProcess.Start("block", "serve", "file:" + fixture.ImagePath, "--nbd", "unix:" + socket, "--nbd", $"tcp://127.0.0.1:{port}", "--name", "root");
        await accel.WaitUntilAsync(() => accel.Output.Contains("Stop with Ctrl+C", StringComparison.Ordinal));

        Assert.Contains($"nbd+unix:///root?socket={socket}", accel.Output, StringComparison.Ordinal);
        await Tool.CheckAsync("qemu-img", "compare", "-f", "raw", "-F", "raw", fixture.ImagePath, $"nbd+unix:///root?socket={socket}");
        await Tool.CheckAsync("qemu-img", "compare", "-f", "raw", "-F", "raw", fixture.ImagePath, $"nbd://127.0.0.1:{port}/root");

        Assert.Equal(0, await accel.TerminateAsync());
        Assert.Contains("Stopped: 2 connection(s)", accel.Output, StringComparison.Ordinal);
        Assert.False(File.Exists(socket));
    }

    [Fact]
    public async Task BlockServe_ImageWithoutBlockFormat_OneErrorLine()
    {
        var (code, output, error) = await RunAsync("block", "serve", "oci:/nonexistent/layout:tag", "--nbd", "unix:" + Path.Combine(fixture.Directory, "x.sock"));

        Assert.Equal(1, code);
        Assert.Equal(string.Empty, output);
        Assert.Single(error.Trim().Split('\n'));
        Assert.Contains("has no block image", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task BlockServe_BadEndpoint_OneErrorLine()
    {
        var (code, _, error) = await RunAsync("block", "serve", "file:" + fixture.ImagePath, "--nbd", "http://x");

        Assert.Equal(1, code);
        Assert.Contains("unix:PATH or tcp://HOST:PORT", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task MountStrategyBlock_RawExt4File_TreeEqualsUmociUntilUmount()
    {
        string mountPoint = fixture.NewMountPoint();
        string stats = Path.Combine(fixture.Directory, "stats-" + Guid.NewGuid().ToString("N")[..8] + ".json");
        await using var accel = AccelProcess.Start("mount", "file:" + fixture.ImagePath, mountPoint, "--strategy", "block", "--read-only", "--stats-json", stats);
        await accel.WaitUntilAsync(() => accel.Output.Contains("Stop with Ctrl+C", StringComparison.Ordinal));

        var differences = TreeSnapshot.Compare(fixture.ReferenceSnapshot, TreeSnapshot.Capture(mountPoint), new TreeCompareOptions { MtimeGranularityNanoseconds = 1_000_000_000 });
        Assert.Empty(differences);
        Assert.Contains("with strategy block", accel.Output, StringComparison.Ordinal);

        var umount = await RunAsync("umount", mountPoint);
        Assert.True(umount.ExitCode == 0, umount.Error);
        Assert.Equal(0, await accel.WaitForExitAsync());
        Assert.Empty(Directory.EnumerateFileSystemEntries(mountPoint));
        using var json = System.Text.Json.JsonDocument.Parse(File.ReadAllText(stats));
        Assert.Equal("block", json.RootElement.GetProperty("strategy").GetString());
        Assert.True(json.RootElement.GetProperty("bytesRead").GetInt64() > 0);
    }

    [Fact]
    public async Task MountStrategyBlock_ImageWithoutBlockFormat_OneErrorLine()
    {
        var (code, _, error) = await RunAsync("mount", "oci:/nonexistent/layout:tag", fixture.NewMountPoint(), "--strategy", "block");

        Assert.Equal(1, code);
        Assert.Single(error.Trim().Split('\n'));
    }
}

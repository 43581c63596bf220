using Accelerator.Testing.Processes;

namespace Accelerator.IntegrationTests.Containerd;

/// <summary><c>accel snapshotter</c> as a process: its configuration file and flags, one daemon per root, errors.</summary>
public sealed class SnapshotterCommandTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("accel-scc-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public async Task ConfigFile_SetsRootAndAddress_FlagOverridesRoot_SigtermRemovesSocket()
    {
        string socket = Path.Combine(_directory, "run", "s.sock");
        string config = Path.Combine(_directory, "snapshotter.toml");
        File.WriteAllText(config, $"""
            [snapshotter]
            root = "{Path.Combine(_directory, "from-file")}"
            address = "{socket}"
            """);
        string root = Path.Combine(_directory, "from-flag");

        await using var accel = AccelProcess.Start("snapshotter", "--config", config, "--root", root);
        await accel.WaitForOutputAsync(SnapshotterContainerdFixture.ReadyLine, TimeSpan.FromMinutes(1));

        Assert.Contains($"Snapshotter listening on {socket} (root {root}).", accel.Output, StringComparison.Ordinal);
        Assert.True(File.Exists(socket));
        Assert.True(Directory.Exists(Path.Combine(root, "snapshots")));
        Assert.False(Directory.Exists(Path.Combine(_directory, "from-file")));
        Assert.Equal(0, await accel.TerminateAsync());
        Assert.False(File.Exists(socket));
    }

    [Fact]
    public async Task SecondDaemon_OnSameRoot_OneErrorLine()
    {
        string root = Path.Combine(_directory, "root");
        await using var first = AccelProcess.Start("snapshotter", "--address", Path.Combine(_directory, "a.sock"), "--root", root);
        await first.WaitForOutputAsync(SnapshotterContainerdFixture.ReadyLine, TimeSpan.FromMinutes(1));

        var (exitCode, _, error) = await AccelProcess.RunAsync("snapshotter", "--address", Path.Combine(_directory, "b.sock"), "--root", root);

        Assert.Equal(1, exitCode);
        string line = Assert.Single(error.Split('\n', StringSplitOptions.RemoveEmptyEntries), l => l.StartsWith("accel: error:", StringComparison.Ordinal));
        Assert.Contains("Another accel snapshotter is running on", line, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(_directory, "b.sock")));
    }

    [Fact]
    public async Task SecondDaemon_WithTakeover_StopsTheFirstAndServesOnItsSocket()
    {
        string root = Path.Combine(_directory, "root-takeover");
        string socket = Path.Combine(_directory, "t.sock");
        await using var first = AccelProcess.Start("snapshotter", "--address", socket, "--root", root);
        await first.WaitForOutputAsync(SnapshotterContainerdFixture.ReadyLine, TimeSpan.FromMinutes(1));

        await using var second = AccelProcess.Start("snapshotter", "--address", socket, "--root", root, "--takeover");
        await second.WaitForOutputAsync(SnapshotterContainerdFixture.ReadyLine, TimeSpan.FromMinutes(1));

        Assert.Equal(0, await first.WaitForExitAsync());
        Assert.Contains($"Replacing the snapshotter process {first.Id} on {root}.", second.Output, StringComparison.Ordinal);
        Assert.True(File.Exists(socket));
        Assert.Equal(0, await second.TerminateAsync());
    }

    [Fact]
    public async Task InvalidConfigFile_OneErrorLineNamingIt()
    {
        string config = Path.Combine(_directory, "bad.toml");
        File.WriteAllText(config, "[snapshotter\nroot = ");

        var (exitCode, _, error) = await AccelProcess.RunAsync("snapshotter", "--config", config, "--address", Path.Combine(_directory, "c.sock"), "--root", Path.Combine(_directory, "r"));

        Assert.Equal(1, exitCode);
        Assert.Contains("accel: error: The configuration file " + config, error, StringComparison.Ordinal);
    }
}

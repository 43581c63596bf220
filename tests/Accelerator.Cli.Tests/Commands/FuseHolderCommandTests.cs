using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using Accelerator.Cli.Commands;
using Accelerator.Fuse.Takeover;
using Accelerator.Testing.Processes;

namespace Accelerator.Cli.Tests.Commands;

/// <summary>The hidden <c>accel fuse-holder</c>, run for real: detached, outliving its starter, exiting when idle.</summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class FuseHolderCommandTests : IDisposable
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);
    private readonly string _root = Directory.CreateTempSubdirectory("accel-holder-cli-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact]
    public async Task Help_DoesNotListFuseHolder()
    {
        var run = await Accel.RunAsync("--help");

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.DoesNotContain("fuse-holder", run.Out, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Background_HolderOutlivesItsStarterInItsOwnSessionAndExitsWhenIdle()
    {
        string directory = Path.Combine(_root, "holder");
        int holderPid;
        FuseHolderClient client;
        await using (var starter = AccelProcess.Start("fuse-holder", "--directory", directory, "--background", "--idle-exit", "2s"))
        {
            // Connected while the starter still runs, this client keeps the holder from going idle until the checks are done.
            client = await ConnectWhenListeningAsync(directory);
            Assert.True(await starter.WaitForExitAsync() == 0, starter.Error);
            var printed = Regex.Match(starter.Output, @"FUSE holder (\d+) listening on (\S+) \(0 held\)\.");
            Assert.True(printed.Success, starter.Output);
            Assert.Equal(Path.Combine(directory, FuseHolder.SocketName), printed.Groups[2].Value);
            holderPid = int.Parse(printed.Groups[1].Value, CultureInfo.InvariantCulture);
        }

        // Its starter has exited; the holder still answers, in a session of its own (setsid), not this process's child.
        await using (client)
        {
            Assert.Equal(holderPid, client.HolderPid);
            Assert.Empty(await client.ListAsync());
            var (parent, session) = ParentAndSession(holderPid);
            Assert.Equal(holderPid, session);
            Assert.NotEqual(Environment.ProcessId, parent);
        }

        await WaitUntilGoneAsync(holderPid);
        Assert.False(File.Exists(Path.Combine(directory, FuseHolder.SocketName)));
        Assert.Contains("exiting", await File.ReadAllTextAsync(Path.Combine(directory, FuseHolderLauncher.LogName)), StringComparison.Ordinal);
    }

    [Fact]
    public async Task ForAccelCli_NoHolderListening_ConnectStartsOne()
    {
        string directory = Path.Combine(_root, "launched");

        int holderPid;
        await using (var client = await FuseHolderClient.ConnectAsync(directory, FuseHolderCommand.ForAccelCli(TimeSpan.FromSeconds(1))))
        {
            holderPid = client.HolderPid;
            Assert.NotEqual(Environment.ProcessId, holderPid);
            Assert.Empty(await client.ListAsync());
        }

        await WaitUntilGoneAsync(holderPid);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(directory));
    }

    private static async Task<FuseHolderClient> ConnectWhenListeningAsync(string directory)
    {
        var stopwatch = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                return await FuseHolderClient.ConnectAsync(directory);
            }
            catch (FuseHolderException) when (stopwatch.Elapsed < Patience)
            {
                await Task.Delay(20);
            }
        }
    }

    // Fields 4 (ppid) and 6 (session) of /proc/PID/stat, after the command name in parentheses.
    private static (int Parent, int Session) ParentAndSession(int pid)
    {
        string stat = File.ReadAllText($"/proc/{pid}/stat");
        string[] fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return (int.Parse(fields[1], CultureInfo.InvariantCulture), int.Parse(fields[3], CultureInfo.InvariantCulture));
    }

    // Gone, or a zombie nobody reaped (the holder is reparented away from this process).
    private static async Task WaitUntilGoneAsync(int pid)
    {
        var stopwatch = Stopwatch.StartNew();
        while (true)
        {
            string? stat = null;
            try
            {
                stat = await File.ReadAllTextAsync($"/proc/{pid}/stat");
            }
            catch (IOException)
            {
            }

            if (stat is null || stat[(stat.LastIndexOf(')') + 2)] == 'Z')
            {
                return;
            }

            Assert.True(stopwatch.Elapsed < Patience, $"the holder {pid} did not exit when idle");
            await Task.Delay(50);
        }
    }
}

using Accelerator.Fuse.Takeover;
using Accelerator.Linux;
using Accelerator.Testing.Processes;
using Xunit.Abstractions;

namespace Accelerator.IntegrationTests.Takeover;

/// <summary>
/// <c>accel mount</c> again at the same mount point takes the live mount over, from a running server (which exits 0,
/// leaving it mounted) and after a SIGKILL of the server (the holder kept the connection): a reader in this process
/// reading and checksumming files of the mount with O_DIRECT the whole time sees no failed read and no wrong byte, only
/// a stall. Real <c>accel</c> processes, a real registry, real FUSE, loop, ext4 and overlay mounts.
/// </summary>
public sealed class MountTakeoverTests(TakeoverImageFixture fixture, ITestOutputHelper output) : IClassFixture<TakeoverImageFixture>, IAsyncLifetime
{
    private readonly string _work = Directory.CreateTempSubdirectory("accel-takeover-").FullName;
    private readonly List<AccelProcess> _servers = [];

    private string HolderDirectory => Path.Combine(_work, "holder");

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var server in _servers)
        {
            await server.DisposeAsync();
        }

        foreach (string mount in MountTable.MountPointsUnder(MountTable.Read(), _work))
        {
            _ = await AccelProcess.RunAsync("umount", mount);
        }

        Directory.Delete(_work, recursive: true);
    }

    [Theory]
    [InlineData("lazy")]
    [InlineData("block")]
    public async Task Mount_AgainThenAfterSigkill_TakesOverWithNoFailedRead(string strategy)
    {
        string mountPoint = Directory.CreateDirectory(Path.Combine(_work, "mnt")).FullName;
        string[] args = ["mount", "--plain-http", fixture.Source.ToString(), mountPoint, "--strategy", strategy,
            "--cache-dir", Path.Combine(_work, "cache"), "--holder-dir", HolderDirectory];
        var first = await StartServerAsync(args);
        var reader = new ChecksumReader(mountPoint, fixture.Files);
        await reader.WaitForReadsAsync(fixture.Files.Count);

        // (a) A second server on the same mount point: the first hands the mount over and exits 0, leaving it mounted.
        var second = await StartServerAsync(args);
        Assert.Equal(0, await first.WaitForExitAsync());
        Assert.Contains("Handed " + mountPoint + " over", first.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("Unmounted", first.Output, StringComparison.Ordinal);
        Assert.True(MountTable.IsMountPoint(mountPoint));
        await reader.WaitForReadsAsync(fixture.Files.Count);
        TimeSpan takeoverStall = reader.Longest;

        // (b) The serving process is killed: reads issued now wait in the kernel until a new server took over. (The
        // block mount's FUSE file is first dropped from the page cache, so that its reads reach the server again.)
        if (strategy == "block")
        {
            await DropCachedPagesOfDiskFileAsync(mountPoint);
        }

        await second.KillAsync();
        await Task.Delay(TimeSpan.FromMilliseconds(500));
        var third = await StartServerAsync(args);
        await reader.WaitForReadsAsync(2 * fixture.Files.Count);
        await reader.StopAsync();

        output.WriteLine($"{strategy}: {reader.Reads} reads of {fixture.Files.Count} files, longest read {reader.Longest.TotalMilliseconds:F0} ms " +
            $"(up to the takeover of a running server: {takeoverStall.TotalMilliseconds:F0} ms; the crash gap includes 500 ms with no server).");
        Assert.True(reader.Errors.Count == 0, string.Join("\n", reader.Errors));
        Assert.Contains("with strategy " + strategy, third.Output, StringComparison.Ordinal);

        // accel umount unmounts for real: the server exits, nothing stays mounted or held.
        var (code, _, error) = await AccelProcess.RunAsync("umount", mountPoint);
        Assert.True(code == 0, error);
        Assert.Equal(0, await third.WaitForExitAsync());
        Assert.False(MountTable.IsMountPoint(mountPoint));
        Assert.Empty(MountTable.MountPointsUnder(MountTable.Read(), _work));
        Assert.DoesNotContain(await HeldKeysAsync(), k => k == mountPoint);
    }

    [Fact]
    public async Task Mount_OtherImageOnHeldMountPoint_FailsNamingBothAndLeavesTheMount()
    {
        string mountPoint = Directory.CreateDirectory(Path.Combine(_work, "mnt-other")).FullName;
        string[] args = ["--plain-http", mountPoint, "--strategy", "lazy", "--cache-dir", Path.Combine(_work, "cache"), "--holder-dir", HolderDirectory];
        var server = await StartServerAsync(["mount", fixture.Source.ToString(), .. args]);

        var (code, _, error) = await AccelProcess.RunAsync(["mount", fixture.Other.ToString(), .. args]);

        Assert.NotEqual(0, code);
        Assert.Contains(fixture.Source.ToString(), error, StringComparison.Ordinal);
        Assert.Contains(fixture.Other.ToString(), error, StringComparison.Ordinal);
        Assert.False(server.HasExited, server.Error);
        var reader = new ChecksumReader(mountPoint, fixture.Files);
        await reader.WaitForReadsAsync(fixture.Files.Count);
        await reader.StopAsync();
        Assert.True(reader.Errors.Count == 0, string.Join("\n", reader.Errors));

        // SIGTERM still unmounts (and the holder forgets the mount).
        Assert.Equal(0, await server.TerminateAsync());
        Assert.False(MountTable.IsMountPoint(mountPoint));
        Assert.DoesNotContain(await HeldKeysAsync(), k => k == mountPoint);
    }

    [Fact]
    public async Task Mount_AgainInBackground_PrintsTheSuccessorsPid()
    {
        string mountPoint = Directory.CreateDirectory(Path.Combine(_work, "mnt-background")).FullName;
        string[] args = ["mount", "--plain-http", fixture.Source.ToString(), mountPoint, "--strategy", "lazy", "--read-only",
            "--cache-dir", Path.Combine(_work, "cache"), "--holder-dir", HolderDirectory];
        var first = await StartServerAsync(args);

        var (code, printed, error) = await AccelProcess.RunAsync([.. args, "--background"]);

        Assert.True(code == 0, error);
        int pid = int.Parse(System.Text.RegularExpressions.Regex.Match(printed, @"served by process (\d+)").Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
        using var successor = System.Diagnostics.Process.GetProcessById(pid);
        try
        {
            Assert.Equal(0, await first.WaitForExitAsync());
            Assert.NotEqual(first.Id, pid);
            Assert.False(successor.HasExited);
            var reader = new ChecksumReader(mountPoint, fixture.Files);
            await reader.WaitForReadsAsync(fixture.Files.Count);
            await reader.StopAsync();
            Assert.True(reader.Errors.Count == 0, string.Join("\n", reader.Errors));

            var (umount, _, umountError) = await AccelProcess.RunAsync("umount", mountPoint, "--holder-dir", HolderDirectory);
            Assert.True(umount == 0, umountError);
            using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(1));
            await successor.WaitForExitAsync(timeout.Token);
        }
        finally
        {
            if (!successor.HasExited)
            {
                successor.Kill();
            }
        }

        Assert.False(MountTable.IsMountPoint(mountPoint));
    }

    [Fact]
    public async Task Umount_AfterServerKilled_ForgetsAndTearsDownTheHeldMount()
    {
        string mountPoint = Directory.CreateDirectory(Path.Combine(_work, "mnt-orphan")).FullName;
        var server = await StartServerAsync(["mount", "--plain-http", fixture.Source.ToString(), mountPoint, "--strategy", "lazy",
            "--cache-dir", Path.Combine(_work, "cache"), "--holder-dir", HolderDirectory]);
        await server.KillAsync();
        Assert.Contains(mountPoint, await HeldKeysAsync());
        string lower = Assert.Single(MountTable.Read(), m => m.FileSystemType == "fuse.accel" && m.MountPoint.EndsWith("/lower", StringComparison.Ordinal)
            && MountTable.Read().Any(o => o.MountPoint == mountPoint && o.SuperOptions.Contains(m.MountPoint, StringComparison.Ordinal))).MountPoint;

        var (code, _, error) = await AccelProcess.RunAsync("umount", mountPoint, "--holder-dir", HolderDirectory);

        Assert.True(code == 0, error);
        Assert.False(MountTable.IsMountPoint(mountPoint));
        Assert.False(MountTable.IsMountPoint(lower));
        Assert.False(Directory.Exists(Path.GetDirectoryName(lower)));
        Assert.DoesNotContain(mountPoint, await HeldKeysAsync());
    }

    // POSIX_FADV_DONTNEED on the FUSE file under the loop device (named by the holder's state): its clean pages go.
    private async Task DropCachedPagesOfDiskFileAsync(string mountPoint)
    {
        await using var client = await FuseHolderClient.ConnectAsync(HolderDirectory);
        var held = Assert.Single(await client.ListAsync(), e => e.Key == mountPoint);
        string disk = FuseTakeoverState.TryParse(held.State)!.BackingFile!;
        using var handle = File.OpenHandle(disk, FileMode.Open, FileAccess.Read);
        Assert.Equal(0, PosixFadvise((int)handle.DangerousGetHandle(), 0, 0, PosixFadviseDontNeed));
    }

    private const int PosixFadviseDontNeed = 4;

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "posix_fadvise")]
    private static extern int PosixFadvise(int fd, long offset, long length, int advice);

    private async Task<AccelProcess> StartServerAsync(string[] args)
    {
        var server = AccelProcess.Start(args);
        _servers.Add(server);
        await server.WaitForOutputAsync("Mounted ", TimeSpan.FromMinutes(1));
        return server;
    }

    private async Task<IReadOnlyList<string>> HeldKeysAsync()
    {
        if (!File.Exists(Path.Combine(HolderDirectory, "holder.sock")))
        {
            return [];
        }

        try
        {
            await using var client = await FuseHolderClient.ConnectAsync(HolderDirectory);
            return [.. (await client.ListAsync()).Select(e => e.Key)];
        }
        catch (FuseHolderException)
        {
            return [];
        }
    }
}

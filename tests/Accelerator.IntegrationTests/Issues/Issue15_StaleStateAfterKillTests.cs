using System.Text.Json;
using Accelerator.Fuse;
using Accelerator.Fuse.FileSystem;
using Accelerator.IntegrationTests.Cli;
using Accelerator.IntegrationTests.Containerd;
using Accelerator.Linux;
using Accelerator.Testing.Images;
using Accelerator.Testing.Processes;
using Accelerator.Testing.Trees;

namespace Accelerator.IntegrationTests.Issues;

/// <summary>
/// Issue 15, stale state: an <c>accel mount --no-takeover</c> killed with SIGKILL (nothing holds its FUSE descriptor,
/// so nothing can take it over) leaves a dead FUSE mount, the overlay on it, for block a loop device and its ext4 mount, and its
/// private directory. The next <c>accel mount</c> on that mount point and state directory removes all of it before it
/// mounts — checked against <c>/proc/self/mountinfo</c> and <c>losetup -J</c>.
/// </summary>
public sealed class Issue15_StaleStateAfterKillTests(ConformanceImageFixture fixture) : IClassFixture<ConformanceImageFixture>, IDisposable
{
    private readonly string _work = Directory.CreateTempSubdirectory("accel-stale-").FullName;

    public void Dispose()
    {
        foreach (string mountPoint in MountTable.MountPointsUnder(MountTable.Read(), _work))
        {
            FileSystemMount.Unmount(mountPoint);
        }

        foreach (string loop in LoopDevice.BackedUnder(_work))
        {
            LoopDevice.DetachAsync(loop).GetAwaiter().GetResult();
        }

        Directory.Delete(_work, recursive: true);
    }

    [Theory]
    [InlineData("lazy")]
    [InlineData("block")]
    public async Task Mount_AfterSigkillOfThePreviousServer_RemovesEveryMountLoopDeviceAndDirectoryItLeft(string strategy)
    {
        var source = fixture.Reference(ConformanceImageFixture.OciRepository);
        string[] convert = strategy == "block"
            ? ["convert", "--plain-http", source.ToString(), "--format", "block", "--filesystem", "ext4", "--free-space", "4M"]
            : ["convert", "--plain-http", source.ToString(), "--format", "lazy"];
        var (converted, _, convertError) = await CliRunner.RunAsync(convert);
        Assert.True(converted == 0, convertError);
        string state = Path.Combine(_work, "state");
        string mountPoint = Directory.CreateDirectory(Path.Combine(_work, "mnt")).FullName;
        string[] mount =
        [
            "mount", "--plain-http", source.ToString(), mountPoint, "--strategy", strategy,
            "--state-dir", state, "--cache-dir", Path.Combine(_work, "cache"),
            // Nothing holds the descriptor, so nothing can be taken over: what the kill leaves is stale.
            "--no-takeover",
        ];

        // The first server, killed like a crash once it serves.
        string left;
        await using (var first = AccelProcess.Start(mount))
        {
            await first.WaitForOutputAsync("Stop with Ctrl+C", TimeSpan.FromMinutes(1));
            Assert.Equal(ConformancePaths.SmallFileContent, await File.ReadAllTextAsync(Path.Combine(mountPoint, ConformancePaths.SmallFile)));
            left = Assert.Single(Directory.GetDirectories(state, strategy + "-*"));
            await first.KillAsync();
        }

        var leftMounts = MountsAtOrUnder(left).Concat(MountsAtOrUnder(mountPoint)).ToList();
        Assert.Contains(leftMounts, m => m.FileSystemType.StartsWith("fuse.accel", StringComparison.Ordinal));
        Assert.Contains(leftMounts, m => m.FileSystemType == "overlay" && m.MountPoint == mountPoint);
        if (strategy == "block")
        {
            Assert.Contains(await LoopBackingFilesAsync(), f => f.StartsWith(left + "/", StringComparison.Ordinal));
            Assert.Contains(leftMounts, m => m.FileSystemType == "ext4");
        }

        // The second server cleans up before it mounts: nothing of the first is left, and it serves.
        await using (var second = AccelProcess.Start(mount))
        {
            await second.WaitForOutputAsync("Stop with Ctrl+C", TimeSpan.FromMinutes(1));

            Assert.Empty(MountsAtOrUnder(left));
            Assert.DoesNotContain(await LoopBackingFilesAsync(), f => f.StartsWith(left + "/", StringComparison.Ordinal));
            Assert.False(Directory.Exists(left));
            Assert.Single(MountTable.Read(), m => m.MountPoint == mountPoint);
            Assert.Contains($"Stale state: unmounted {mountPoint}.", second.Output, StringComparison.Ordinal);
            Assert.Contains($"Stale state: deleted {left}.", second.Output, StringComparison.Ordinal);
            Assert.Equal(ConformancePaths.SmallFileContent, await File.ReadAllTextAsync(Path.Combine(mountPoint, ConformancePaths.SmallFile)));

            var (umount, _, umountError) = await CliRunner.RunAsync("umount", mountPoint);
            Assert.True(umount == 0, umountError);
            Assert.Equal(0, await second.WaitForExitAsync());
        }

        Assert.Empty(MountsAtOrUnder(state));
        Assert.Empty(MountsAtOrUnder(mountPoint));
        Assert.DoesNotContain(await LoopBackingFilesAsync(), f => f.StartsWith(state + "/", StringComparison.Ordinal));
        Assert.Empty(Directory.GetDirectories(state, strategy + "-*"));
    }

    [Fact]
    public async Task Snapshotter_StartsOnARootWithDeadMounts_RemovesThemAndTheDeadProcessesDirectories()
    {
        // What a killed daemon leaves when no holder keeps its descriptors: the lazy and block mounters' private
        // directories with dead FUSE mounts in them, owned by a process that is gone. (A remote image's directory
        // without its record is removed by the remote-image provider itself.)
        string root = Path.Combine(_work, "root");
        string source = Directory.CreateDirectory(Path.Combine(_work, "source")).FullName;
        await File.WriteAllTextAsync(Path.Combine(source, "file"), "x\n");
        string lazy = Directory.CreateDirectory(Path.Combine(root, "lazy", "lazy-0123")).FullName;
        string block = Directory.CreateDirectory(Path.Combine(root, "block", "block-0456")).FullName;
        var gone = ProcessIdentity.Current with { StartTime = ProcessIdentity.Current.StartTime + 1 };
        await File.WriteAllTextAsync(Path.Combine(lazy, DirectoryOwner.FileName), gone + "\n");
        await File.WriteAllTextAsync(Path.Combine(block, DirectoryOwner.FileName), gone + "\n");
        string blockFuse = Directory.CreateDirectory(Path.Combine(block, "fuse")).FullName;
        using var index = DirectoryChunkIndex.Build(source);
        var mounts = new List<FuseMount>();
        foreach (string mountPoint in new[] { blockFuse, Directory.CreateDirectory(Path.Combine(lazy, "lower")).FullName })
        {
            var mount = await FuseMount.MountAsync(mountPoint, new ChunkIndexFileSystem(index, new DirectoryContent(index)));
            mount.Abort();
            mounts.Add(mount);
        }

        await using (var daemon = AccelProcess.Start("snapshotter", "--address", Path.Combine(_work, "s.sock"), "--root", root))
        {
            await daemon.WaitForOutputAsync(SnapshotterContainerdFixture.ReadyLine, TimeSpan.FromMinutes(1));

            Assert.Empty(MountsAtOrUnder(root));
            Assert.False(Directory.Exists(lazy));
            Assert.False(Directory.Exists(block));
            string log = daemon.Error + daemon.Output;
            Assert.True(log.Contains($"Stale state: unmounted fuse.accel at {blockFuse} (its FUSE connection ended)", StringComparison.Ordinal), log);
            Assert.True(log.Contains($"Stale state: deleted {lazy}", StringComparison.Ordinal), log);
            Assert.Equal(0, await daemon.TerminateAsync());
        }

        foreach (var mount in mounts)
        {
            await mount.DisposeAsync();
        }
    }

    private sealed class DirectoryContent(DirectoryChunkIndex index) : IFileContentReader
    {
        public ValueTask<int> ReadAsync(ulong inode, long offset, Memory<byte> buffer, CancellationToken cancellationToken)
            => index.ReadAsync(inode, offset, buffer, cancellationToken);
    }

    private static List<MountEntry> MountsAtOrUnder(string directory)
        => [.. MountTable.Read().Where(m => MountTable.IsAtOrUnder(m.MountPoint, directory))];

    // What losetup itself reports (util-linux reads sysfs too, but this is the operator's view).
    private static async Task<List<string>> LoopBackingFilesAsync()
    {
        var start = new System.Diagnostics.ProcessStartInfo("losetup", ["--list", "--json"]) { RedirectStandardOutput = true };
        using var losetup = System.Diagnostics.Process.Start(start)!;
        string output = await losetup.StandardOutput.ReadToEndAsync();
        await losetup.WaitForExitAsync();
        if (string.IsNullOrWhiteSpace(output))
        {
            return [];
        }

        using var json = JsonDocument.Parse(output);
        return [.. json.RootElement.GetProperty("loopdevices").EnumerateArray()
            .Select(d => d.TryGetProperty("back-file", out var file) ? file.GetString() ?? string.Empty : string.Empty)];
    }
}

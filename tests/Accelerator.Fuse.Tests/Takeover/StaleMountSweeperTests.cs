using System.Diagnostics;
using Accelerator.Fuse.Takeover;
using Accelerator.Fuse.Tests.Support;
using Accelerator.Linux;

namespace Accelerator.Fuse.Tests.Takeover;

/// <summary>
/// <see cref="StaleMountSweeper"/> on real mounts: the layouts the lazy and block mounters make (FUSE, loop device,
/// ext4, overlay, private directory), left with their FUSE connection ended (aborted, as when the server and every
/// copy of its descriptor are gone), next to live and held ones that must be left alone.
/// </summary>
public sealed class StaleMountSweeperTests : IAsyncLifetime
{
    private readonly MountScratch _scratch = new();
    private readonly List<DirectoryMount> _mounts = [];
    private readonly string _root;
    private readonly string _state;
    private readonly string _target;

    public StaleMountSweeperTests()
    {
        _root = Directory.CreateDirectory(Path.Combine(_scratch.Root, "root")).FullName;
        _state = Directory.CreateDirectory(Path.Combine(_root, "state")).FullName;
        _target = Directory.CreateDirectory(Path.Combine(_root, "mnt")).FullName;
        _scratch.WriteFile("file", "content\n"u8.ToArray());
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        // Whatever a failed test left: unmount everything under the scratch directory before deleting it.
        foreach (string mountPoint in MountTable.MountPointsUnder(MountTable.Read(), _scratch.Root))
        {
            FileSystemMount.Unmount(mountPoint);
        }

        foreach (var mount in _mounts)
        {
            await mount.DisposeAsync();
        }

        foreach (string loop in LoopDevice.BackedUnder(_scratch.Root))
        {
            await LoopDevice.DetachAsync(loop);
        }

        _scratch.Dispose();
    }

    [Fact]
    public async Task SweepAsync_DeadLazyLayout_UnmountsOverlayThenFuseAndDeletesTheDirectory()
    {
        string directory = PrivateDirectoryOfDeadOwner("lazy");
        var fuse = await MountAsync(Path.Combine(directory, "lower"));
        OverlayMount.Mount([fuse.Mount.MountPoint], Subdirectory(directory, "upper"), Subdirectory(directory, "work"), _target);
        Assert.Equal("content\n", await File.ReadAllTextAsync(Path.Combine(_target, "file")));
        fuse.Mount.Abort();

        var report = await Sweep();

        Assert.Equal([_target, fuse.Mount.MountPoint], report.Unmounted);
        Assert.Equal([directory], report.DeletedDirectories);
        Assert.Empty(report.Failures);
        Assert.Empty(MountsUnderRoot());
        Assert.False(Directory.Exists(directory));
        Assert.True(Directory.Exists(_target));
    }

    [Fact]
    public async Task SweepAsync_DeadBlockLayout_UnmountsOverlayAndExt4DetachesTheLoopDeviceAndUnmountsFuse()
    {
        await MakeExt4ImageAsync(Path.Combine(_scratch.Source, "disk"));
        string directory = PrivateDirectoryOfDeadOwner("block");
        var fuse = await MountAsync(Subdirectory(directory, "fuse"));
        var loop = await LoopDevice.AttachAsync(Path.Combine(fuse.Mount.MountPoint, "disk"), readOnly: true, directIo: false, logicalBlockSize: 512, CancellationToken.None);
        string lower = Subdirectory(directory, "lower");
        FileSystemMount.Mount(loop.Path, lower, "ext4", MountFlags.ReadOnly, "noload");
        OverlayMount.Mount([lower], Subdirectory(directory, "upper"), Subdirectory(directory, "work"), _target);
        Assert.Equal("inside ext4\n", await File.ReadAllTextAsync(Path.Combine(_target, "hello")));
        fuse.Mount.Abort();

        var report = await Sweep();

        Assert.Equal([_target, lower, fuse.Mount.MountPoint], report.Unmounted);
        Assert.Equal([loop.Path], report.DetachedLoopDevices);
        Assert.Equal([directory], report.DeletedDirectories);
        Assert.Empty(report.Failures);
        Assert.Empty(MountsUnderRoot());
        Assert.DoesNotContain(LoopDevice.ListAttached(), l => MountTable.IsAtOrUnder(l.BackingFile, _root));
        Assert.False(Directory.Exists(directory));
    }

    [Fact]
    public async Task SweepAsync_LiveMountOfAnotherServer_LeftAloneWithItsDirectory()
    {
        string directory = PrivateDirectoryOfDeadOwner("lazy");
        var fuse = await MountAsync(Path.Combine(directory, "lower"));

        var report = await Sweep();

        Assert.Empty(report.Unmounted);
        Assert.Empty(report.DeletedDirectories);
        Assert.Contains(report.Kept, k => k.Path == fuse.Mount.MountPoint && k.Reason.Contains("live", StringComparison.Ordinal));
        Assert.Contains(report.Kept, k => k.Path == directory && k.Reason.Contains("mounted", StringComparison.Ordinal));
        Assert.Equal("content\n", await File.ReadAllTextAsync(Path.Combine(fuse.Mount.MountPoint, "file")));
    }

    [Fact]
    public async Task SweepAsync_DeadButHeldMount_NeitherProbedNorTouched()
    {
        string directory = PrivateDirectoryOfDeadOwner("lazy");
        var fuse = await MountAsync(Path.Combine(directory, "lower"));
        fuse.Mount.Abort();

        var report = await Sweep(StaleSweepScope.HeldAtOrUnder([directory]));

        Assert.Empty(report.Unmounted);
        Assert.Empty(report.DeletedDirectories);
        Assert.Contains(report.Kept, k => k.Path == fuse.Mount.MountPoint && k.Reason.Contains("held", StringComparison.Ordinal));
        Assert.Contains(report.Kept, k => k.Path == directory && k.Reason.Contains("held", StringComparison.Ordinal));
        Assert.Contains(MountTable.Read(), m => m.MountPoint == fuse.Mount.MountPoint);
    }

    [Fact]
    public async Task SweepAsync_DeadMountOutsideTheRoots_NotTouched()
    {
        string outside = Directory.CreateDirectory(Path.Combine(_scratch.Root, "elsewhere")).FullName;
        var fuse = await MountAsync(outside);
        fuse.Mount.Abort();

        var report = await Sweep();

        Assert.Empty(report.Unmounted);
        Assert.Contains(MountTable.Read(), m => m.MountPoint == outside);
    }

    [Fact]
    public async Task SweepAsync_Directories_OnlyUnusedOnesOfDeadOwnersDeletedAndLinksNeverFollowed()
    {
        string dead = PrivateDirectoryOfDeadOwner("lazy");
        File.WriteAllText(Path.Combine(Subdirectory(dead, "upper"), "written"), "x");
        string running = PrivateDirectory.CreateUnique(_state, "block");
        DirectoryOwner.Record(running);
        string unrecorded = PrivateDirectory.CreateUnique(_state, "lazy");
        string other = Directory.CreateDirectory(Path.Combine(_state, "cache")).FullName;
        string victim = Directory.CreateDirectory(Path.Combine(_scratch.Root, "victim")).FullName;
        File.WriteAllText(Path.Combine(victim, "keep"), "x");
        string link = Path.Combine(_state, "lazy-link");
        File.CreateSymbolicLink(link, victim);
        // A link inside a stale directory is removed, not followed.
        File.CreateSymbolicLink(Path.Combine(dead, "escape"), victim);

        var report = await Sweep();

        Assert.Equal([dead], report.DeletedDirectories);
        Assert.True(Directory.Exists(running));
        Assert.True(Directory.Exists(unrecorded));
        Assert.True(Directory.Exists(other));
        Assert.True(File.Exists(Path.Combine(victim, "keep")));
        Assert.NotNull(new FileInfo(link).LinkTarget);
        Assert.Contains(report.Kept, k => k.Path == running && k.Reason.Contains("runs", StringComparison.Ordinal));
        Assert.Contains(report.Kept, k => k.Path == unrecorded && k.Reason.Contains("grace", StringComparison.Ordinal));

        var withoutGrace = await new StaleMountSweeper(new StaleSweepOptions { UnrecordedDirectoryGrace = TimeSpan.Zero })
            .SweepAsync(new StaleSweepScope { Roots = [_root], StateDirectories = [_state] });

        Assert.Equal([unrecorded], withoutGrace.DeletedDirectories);
    }

    [Fact]
    public async Task SweepAsync_RootIsSlash_Refused()
    {
        await Assert.ThrowsAsync<ArgumentException>(() => new StaleMountSweeper().SweepAsync(new StaleSweepScope { Roots = ["/"] }));
    }

    private Task<StaleSweepReport> Sweep(Func<string, bool>? isHeld = null)
        => new StaleMountSweeper().SweepAsync(new StaleSweepScope { Roots = [_root], StateDirectories = [_state], IsHeld = isHeld });

    private async Task<DirectoryMount> MountAsync(string mountPoint)
    {
        Directory.CreateDirectory(mountPoint);
        var mount = await DirectoryMount.MountAsync(_scratch.Source, mountPoint, new FuseMountOptions { Subtype = "accel-test" });
        _mounts.Add(mount);
        return mount;
    }

    // A private directory whose recorded owner is this process ID with another start time: a process that is gone.
    private string PrivateDirectoryOfDeadOwner(string prefix)
    {
        string directory = PrivateDirectory.CreateUnique(_state, prefix);
        var gone = ProcessIdentity.Current with { StartTime = ProcessIdentity.Current.StartTime + 1 };
        File.WriteAllText(Path.Combine(directory, DirectoryOwner.FileName), gone + "\n");
        return directory;
    }

    private IReadOnlyList<string> MountsUnderRoot() => MountTable.MountPointsUnder(MountTable.Read(), _root);

    private static string Subdirectory(string parent, string name) => Directory.CreateDirectory(Path.Combine(parent, name)).FullName;

    private async Task MakeExt4ImageAsync(string image)
    {
        string content = Directory.CreateDirectory(Path.Combine(_scratch.Root, "ext4-content")).FullName;
        await File.WriteAllTextAsync(Path.Combine(content, "hello"), "inside ext4\n");
        var start = new ProcessStartInfo("mkfs.ext4") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string argument in new[] { "-q", "-F", "-d", content, image, "4M" })
        {
            start.ArgumentList.Add(argument);
        }

        using var mkfs = Process.Start(start)!;
        string error = await mkfs.StandardError.ReadToEndAsync();
        await mkfs.WaitForExitAsync();
        Assert.True(mkfs.ExitCode == 0, error);
    }
}

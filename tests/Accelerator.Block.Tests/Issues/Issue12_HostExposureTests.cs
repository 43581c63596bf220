using Accelerator.Block.Disks;
using Accelerator.Block.Mounting;
using Accelerator.Block.Tests.Mounting;
using Accelerator.Testing.Host;
using Accelerator.Testing.Images;

namespace Accelerator.Block.Tests.Issues;

/// <summary>
/// Issue 12, B13: a block mount's state directory was created 0755 and its loop-mounted file system (the overlay's
/// lower layer) honoured set-user-ID, so any local user could walk into the state directory and run the image's
/// set-user-ID programs as root (the CVE-2021-41103 class). Now the state directories are 0700 and the lower file
/// system is mounted nosuid,nodev; the overlay at the mount point, the container's root, keeps set-user-ID.
/// </summary>
public sealed class Issue12_HostExposureTests(ConformanceImageFixture fixture) : IClassFixture<ConformanceImageFixture>, IDisposable
{
    private readonly string _base = UnprivilegedUser.CreateTraversableDirectory("accel-issue12-block-");

    public void Dispose() => Directory.Delete(_base, recursive: true);

    [Fact]
    public async Task MountDiskAsync_Writable_OtherUsersCannotReachTheLowerTreeAndItIsNosuid()
    {
        string state = Path.Combine(_base, "state");
        string mountPoint = Directory.CreateDirectory(Path.Combine(_base, "mnt")).FullName;
        var mounter = new BlockMounter([], new BlockMountOptions { StateDirectory = state });

        await using var mounted = await mounter.MountDiskAsync(FileVirtualDisk.Open(fixture.ImagePath), mountPoint, ownsDisk: true);

        string privateDirectory = Path.GetDirectoryName(Path.GetDirectoryName(mounted.DiskFile)!)!;
        string lower = Path.Combine(privateDirectory, "lower");
        Assert.True(File.Exists(Path.Combine(lower, ConformancePaths.SetuidFile)));
        Assert.False(await UnprivilegedUser.CanReadAsync(Path.Combine(lower, ConformancePaths.SetuidFile)), "nobody reached the image's set-user-ID file through the state directory");
        Assert.Equal(PrivateMode, File.GetUnixFileMode(privateDirectory));
        Assert.Contains("nosuid", MountOptions(lower));
        Assert.Contains("nodev", MountOptions(lower));
        // The container's root keeps set-user-ID semantics.
        Assert.DoesNotContain("nosuid", MountOptions(mountPoint));
        Assert.True(File.GetUnixFileMode(Path.Combine(mountPoint, ConformancePaths.SetuidFile)).HasFlag(UnixFileMode.SetUser));
    }

    private const UnixFileMode PrivateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;

    // The per-mount options (field 6) of the mount at path in /proc/self/mountinfo.
    private static string[] MountOptions(string path) =>
        File.ReadLines("/proc/self/mountinfo")
            .Select(line => line.Split(' '))
            .Last(fields => fields[4] == path)[5]
            .Split(',');
}

using Accelerator.Fuse.Takeover;
using Accelerator.Linux;

namespace Accelerator.Fuse.Tests.Takeover;

/// <summary><see cref="StaleStatePlanner"/> on mount tables written out: what stands on what, and what is out of reach.</summary>
public sealed class StaleStatePlannerTests
{
    private static readonly string[] Roots = ["/run/accel", "/mnt/image"];

    [Fact]
    public void Plan_BlockLayoutWithAContainerOverlayOutsideTheRoots_UpperFirstAndTheOutsideOneKept()
    {
        var mounts = MountTable.Parse(
        [
            "30 1 0:50 / /run/accel/block-1/fuse ro - fuse.accel-block accel-block ro,user_id=0",
            "31 1 7:3 / /run/accel/block-1/lower ro - ext4 /dev/loop3 ro,noload",
            "32 1 0:51 / /mnt/image rw - overlay overlay rw,lowerdir+=/run/accel/block-1/lower,upperdir=/run/accel/block-1/upper,workdir=/run/accel/block-1/work",
            "33 1 0:52 / /var/lib/containers/c1/rootfs rw - overlay overlay rw,lowerdir=/mnt/image:/other,upperdir=/u,workdir=/w",
            "34 1 0:53 / /run/accel/lazy-2/lower ro - fuse.accel accel ro",
            "35 1 0:54 / /run/other/fuse ro - fuse.accel accel ro",
        ]);
        AttachedLoopDevice[] loops =
        [
            new("/dev/loop3", "/run/accel/block-1/fuse/disk", false),
            new("/dev/loop4", "/var/lib/other/disk", true),
            new("/dev/loop5", "/run/accel/block-9/fuse/disk", true),
        ];
        var probed = new List<string>();

        var plan = StaleStatePlanner.Plan(mounts, loops, Roots, _ => false, m =>
        {
            probed.Add(m.MountPoint);
            return m.MountPoint.Contains("block-1", StringComparison.Ordinal) ? FuseConnectionState.Dead : FuseConnectionState.Live;
        });

        Assert.Equal(["/run/accel/block-1/fuse", "/run/accel/lazy-2/lower"], probed);
        Assert.Equal(["/mnt/image", "/run/accel/block-1/lower"], plan.StackedMounts.Select(m => m.MountPoint));
        Assert.Equal(["/dev/loop3", "/dev/loop5"], plan.LoopDevices.Select(l => l.Device));
        Assert.Equal(["/run/accel/block-1/fuse"], plan.FuseMounts.Select(m => m.MountPoint));
        Assert.Contains(plan.Kept, k => k.Path == "/var/lib/containers/c1/rootfs" && k.Reason.Contains("outside", StringComparison.Ordinal));
        Assert.Contains(plan.Kept, k => k.Path == "/run/accel/lazy-2/lower" && k.Reason.Contains("live", StringComparison.Ordinal));
    }

    [Fact]
    public void Plan_DeadMountCoveredByALiveOne_NotReachedThisRound()
    {
        var mounts = MountTable.Parse(
        [
            "40 1 0:60 / /mnt/image ro - fuse.accel accel ro",
            "41 40 0:61 / /mnt/image ro - fuse.accel accel ro",
        ]);

        var plan = StaleStatePlanner.Plan(mounts, [], Roots, _ => false, m => m.Id == 40 ? FuseConnectionState.Dead : FuseConnectionState.Live);

        Assert.True(plan.IsEmpty);
        Assert.Contains(plan.Kept, k => k.Reason.Contains("covered", StringComparison.Ordinal));
    }

    [Fact]
    public void Plan_HeldMount_NeverProbed()
    {
        var mounts = MountTable.Parse(["50 1 0:70 / /mnt/image ro - fuse.accel accel ro"]);

        var plan = StaleStatePlanner.Plan(mounts, [], Roots, p => p == "/mnt/image", _ => throw new InvalidOperationException("probed"));

        Assert.True(plan.IsEmpty);
        Assert.Equal("held for a takeover", Assert.Single(plan.Kept).Reason);
    }
}

namespace Accelerator.Fuse.Tests;

public sealed class MountIdentityTests
{
    private static readonly string[] Lines =
    [
        "27 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw",
        "42 27 0:39 / /tmp/a\\040b/mnt ro,nosuid,nodev,relatime - fuse.accel accel ro,user_id=0",
        "43 27 0:40 / /tmp/other ro - fuse.accel accel ro",
        "44 27 0:41 / /tmp/a\\040b/mnt ro shared:7 master:3 - fuse.accel accel ro",
        "45 27 0:42 / /tmp/a\\040b/mnt rw - tmpfs tmpfs rw",
        "garbage line",
        "46 27 x:y / /tmp/bad ro - fuse.accel accel ro",
    ];

    [Fact]
    public void Parse_EscapedPathMountedTwice_FindsTheLastMountOfThatType()
    {
        Assert.Equal(new MountIdentity(0, 41), MountIdentity.Parse(Lines, "/tmp/a b/mnt", "fuse.accel"));
    }

    [Fact]
    public void Parse_NoSuchMount_IsNull()
    {
        Assert.Null(MountIdentity.Parse(Lines, "/tmp/bad", "fuse.accel"));
        Assert.Null(MountIdentity.Parse(Lines, "/tmp/other", "fuse.other"));
    }
}

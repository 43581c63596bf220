using Accelerator.Lazy.Mounting;

namespace Accelerator.Lazy.Tests.Mounting;

/// <summary><see cref="MountPoints"/>, behind <c>accel mount</c>'s readiness and <c>accel umount</c> (the parser: Accelerator.Linux.Tests.MountTableTests).</summary>
public sealed class MountPointsTests
{
    [Fact]
    public void IsMounted_RootAndPlainDirectory_TrueAndFalse()
    {
        string directory = Directory.CreateTempSubdirectory("accel-mountinfo-").FullName;
        try
        {
            Assert.True(MountPoints.IsMounted("/proc"));
            Assert.False(MountPoints.IsMounted(directory));
        }
        finally
        {
            Directory.Delete(directory);
        }
    }
}

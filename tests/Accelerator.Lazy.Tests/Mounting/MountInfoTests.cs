using Accelerator.Lazy.Mounting;

namespace Accelerator.Lazy.Tests.Mounting;

/// <summary>The <c>/proc/self/mountinfo</c> reading behind <c>accel mount</c>'s readiness and <c>accel umount</c>.</summary>
public sealed class MountInfoTests
{
    [Fact]
    public void ContainsMountPoint_EscapedSpaceAndBackslash_Matches()
    {
        string[] lines = ["36 25 0:32 / /mnt/with\\040space\\134x rw,relatime shared:1 - tmpfs tmpfs rw"];

        Assert.True(MountSystemCalls.ContainsMountPoint(lines, "/mnt/with space\\x"));
        Assert.False(MountSystemCalls.ContainsMountPoint(lines, "/mnt/with\\040space\\134x"));
    }

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

    [Theory]
    [InlineData("\\")]
    [InlineData("\\0")]
    [InlineData("\\07")]
    [InlineData("\\777")]
    [InlineData("\\8\\9\\\\")]
    public void Unescape_TruncatedOrOddEscapes_DoesNotThrow(string field)
        => Assert.NotNull(MountSystemCalls.Unescape(field));

    [Fact]
    public void ContainsMountPoint_RandomLines_NeverThrows()
    {
        var random = new Random(4);
        const string alphabet = " \\0127/\t:-abc";
        for (int i = 0; i < 5000; i++)
        {
            var line = new string(Enumerable.Range(0, random.Next(0, 60)).Select(_ => alphabet[random.Next(alphabet.Length)]).ToArray());
            MountSystemCalls.ContainsMountPoint([line], "/a");
        }
    }
}

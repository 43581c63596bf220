namespace Accelerator.Linux.Tests;

[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class PrivateDirectoryTests : IDisposable
{
    private readonly string _base = Directory.CreateTempSubdirectory("accel-private-").FullName;

    public void Dispose() => Directory.Delete(_base, recursive: true);

    [Fact]
    public void Create_Missing_Creates0700()
    {
        string path = PrivateDirectory.Create(Path.Combine(_base, "a", "b"));

        Assert.Equal(PrivateDirectory.Mode, File.GetUnixFileMode(path));
    }

    [Fact]
    public void Create_Existing0755OwnedByUs_TightensTo0700()
    {
        string path = Directory.CreateDirectory(Path.Combine(_base, "open")).FullName;
        File.SetUnixFileMode(path, (UnixFileMode)0x1ED);

        PrivateDirectory.Create(path);

        Assert.Equal(PrivateDirectory.Mode, File.GetUnixFileMode(path));
    }

    [Fact]
    public void Create_SymlinkToDirectory_TightensTheTarget()
    {
        string target = Directory.CreateDirectory(Path.Combine(_base, "disk")).FullName;
        File.SetUnixFileMode(target, (UnixFileMode)0x1ED);
        string link = Path.Combine(_base, "link");
        File.CreateSymbolicLink(link, target);

        PrivateDirectory.Create(link);

        Assert.Equal(PrivateDirectory.Mode, File.GetUnixFileMode(target));
    }

    [Fact]
    public void Create_SharedStickyDirectory_ThrowsAndLeavesItAlone()
    {
        string shared = Directory.CreateDirectory(Path.Combine(_base, "tmp")).FullName;
        File.SetUnixFileMode(shared, (UnixFileMode)0x3FF); // 01777, like /tmp

        var error = Assert.Throws<IOException>(() => PrivateDirectory.Create(shared));

        Assert.Contains("shared directory", error.Message);
        Assert.Equal((UnixFileMode)0x3FF, File.GetUnixFileMode(shared));
    }

    [Fact]
    public void Create_OwnedByAnotherUser_ThrowsUnauthorizedAccess()
    {
        // The tests run as root (mounts, loop devices), which may give a directory away.
        string foreign = Directory.CreateDirectory(Path.Combine(_base, "foreign")).FullName;
        using (var chown = System.Diagnostics.Process.Start("chown", ["65534:65534", foreign])!)
        {
            chown.WaitForExit();
            Assert.Equal(0, chown.ExitCode);
        }

        Assert.Throws<UnauthorizedAccessException>(() => PrivateDirectory.Create(foreign));
    }

    [Fact]
    public void CreateUnique_LeavesParentModeAndMakesChild0700()
    {
        string parent = Directory.CreateDirectory(Path.Combine(_base, "parent")).FullName;
        File.SetUnixFileMode(parent, (UnixFileMode)0x1ED);

        string child = PrivateDirectory.CreateUnique(parent, "mount");

        Assert.Equal((UnixFileMode)0x1ED, File.GetUnixFileMode(parent));
        Assert.Equal(PrivateDirectory.Mode, File.GetUnixFileMode(child));
        Assert.StartsWith(Path.Combine(parent, "mount-"), child, StringComparison.Ordinal);
    }
}

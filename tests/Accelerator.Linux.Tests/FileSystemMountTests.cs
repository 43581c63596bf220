using System.Runtime.InteropServices;

namespace Accelerator.Linux.Tests;

/// <summary><see cref="FileSystemMount"/> and <see cref="LibC.Mount"/> (the suite runs as root).</summary>
public sealed class FileSystemMountTests : IDisposable
{
    private readonly string _work = Directory.CreateTempSubdirectory("accel-fsmount-").FullName;

    public void Dispose()
    {
        foreach (string mount in MountTable.MountPointsUnder(MountTable.Read(), _work))
        {
            FileSystemMount.Unmount(mount);
        }

        Directory.Delete(_work, recursive: true);
    }

    [Fact]
    public void BindReadOnly_Directory_SameContentAndWritesRefusedWithErofs()
    {
        string source = Directory.CreateDirectory(Path.Combine(_work, "source")).FullName;
        File.WriteAllText(Path.Combine(source, "file"), "content");
        string target = Directory.CreateDirectory(Path.Combine(_work, "target")).FullName;

        FileSystemMount.BindReadOnly(source, target);

        Assert.Equal("content", File.ReadAllText(Path.Combine(target, "file")));
        Assert.True(MountTable.IsMountPoint(target));
        Assert.Equal(-1, LibC.Open(Path.Combine(target, "new"), LibC.O_WRONLY | LibC.O_CREAT | LibC.O_CLOEXEC, 0x1A4));
        Assert.Equal(Errno.EROFS, Marshal.GetLastPInvokeError());
        Assert.True(FileSystemMount.Unmount(target));
        Assert.False(MountTable.IsMountPoint(target));
        Assert.False(FileSystemMount.Unmount(target));
    }

    [Fact]
    public void BindReadOnly_MissingSource_IOExceptionAndNothingMounted()
    {
        string target = Directory.CreateDirectory(Path.Combine(_work, "target")).FullName;

        var error = Assert.Throws<IOException>(() => FileSystemMount.BindReadOnly(Path.Combine(_work, "missing"), target));

        Assert.Equal(Errno.ENOENT, error.HResult);
        Assert.False(MountTable.IsMountPoint(target));
    }

    [Fact]
    public void Mount_UnknownFileSystemType_IOExceptionNamesTypeAndTarget()
    {
        string target = Directory.CreateDirectory(Path.Combine(_work, "target")).FullName;

        var error = Assert.Throws<IOException>(() => FileSystemMount.Mount("none", target, "no-such-fs", MountFlags.ReadOnly, null));

        Assert.Equal(Errno.ENODEV, error.HResult);
        Assert.Contains("no-such-fs", error.Message, StringComparison.Ordinal);
        Assert.Contains(target, error.Message, StringComparison.Ordinal);
    }
}

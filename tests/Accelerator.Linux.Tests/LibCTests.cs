using System.Runtime.InteropServices;

namespace Accelerator.Linux.Tests;

/// <summary><see cref="LibC"/>: the calls whose numbers or struct layouts this library states itself.</summary>
public sealed class LibCTests : IDisposable
{
    private readonly string _work = Directory.CreateTempSubdirectory("accel-libc-").FullName;

    public void Dispose() => Directory.Delete(_work, recursive: true);

    [Fact]
    public void SysOpenat2_SameNumberOnX64AndArm64()
        => Assert.Equal(437, LibC.SYS_openat2);

    [Fact]
    public void OpenAt2_InRoot_AbsoluteLinkStaysInsideTheRoot()
    {
        Directory.CreateDirectory(Path.Combine(_work, "etc"));
        File.CreateSymbolicLink(Path.Combine(_work, "escape"), "/etc");
        int root = LibC.Open(_work, LibC.O_PATH | LibC.O_DIRECTORY | LibC.O_CLOEXEC);
        Assert.True(root >= 0);
        try
        {
            int fd = LibC.OpenAt2(root, "escape", LibC.O_PATH | LibC.O_DIRECTORY | LibC.O_CLOEXEC, LibC.RESOLVE_IN_ROOT | LibC.RESOLVE_NO_MAGICLINKS);
            Assert.True(fd >= 0, $"errno {Marshal.GetLastPInvokeError()}");
            try
            {
                // "/etc" resolved inside the root: the tree's etc, not the host's.
                Assert.Equal(LibC.Lstat(Path.Combine(_work, "etc")).Inode, LibC.Fstat(fd).Inode);
            }
            finally
            {
                LibC.Close(fd);
            }
        }
        finally
        {
            LibC.Close(root);
        }
    }

    [Fact]
    public void Lstat_FileLinkAndMissing_StatxFields()
    {
        string file = Path.Combine(_work, "file");
        File.WriteAllBytes(file, new byte[5000]);
        File.SetUnixFileMode(file, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead);
        LibC.SetModificationTime(file, 1_577_836_800, 123_456_789);
        string link = Path.Combine(_work, "link");
        File.CreateSymbolicLink(link, file);

        var status = LibC.Lstat(file);

        Assert.Equal(LibC.S_IFREG | Convert.ToUInt32("640", 8), status.Mode);
        Assert.Equal(5000, status.Size);
        Assert.Equal(1u, status.Nlink);
        Assert.Equal((1_577_836_800L, 123_456_789u), (status.MtimeSeconds, status.MtimeNanoseconds));
        Assert.Equal(LibC.Geteuid(), status.Uid);
        Assert.True(LibC.Lstat(link).IsSymbolicLink);
        Assert.True(LibC.Lstat(_work).IsDirectory);
        Assert.Null(LibC.Lstat(LibC.AT_FDCWD, Path.Combine(_work, "missing")));
        Assert.Null(LibC.Lstat(LibC.AT_FDCWD, Path.Combine(file, "below-a-file")));
        Assert.Throws<IOException>(() => LibC.Lstat(Path.Combine(_work, "missing")));
    }

    [Fact]
    public void Xattrs_SetListGetRemove_RoundTrip()
    {
        string file = Path.Combine(_work, "file");
        File.WriteAllText(file, "x");
        try
        {
            LibC.SetXattr(file, "user.accel", [0x00, 0xFF, 0x80]);
        }
        catch (IOException ex) when (ex.HResult == Errno.EOPNOTSUPP)
        {
            return; // a temp directory without user xattrs
        }

        Assert.Contains("user.accel", LibC.ListXattrs(file));
        Assert.Equal([0x00, 0xFF, 0x80], LibC.GetXattr(file, "user.accel"));
        Assert.Equal(3, LibC.LGetXattr(file, "user.accel", []));
        Assert.Equal(-1, LibC.LGetXattr(file, "user.accel", new byte[2]));
        Assert.Equal(Errno.ERANGE, Marshal.GetLastPInvokeError());

        LibC.RemoveXattr(file, "user.accel");

        Assert.Null(LibC.GetXattr(file, "user.accel"));
        Assert.DoesNotContain("user.accel", LibC.ListXattrs(file));
    }

    [Fact]
    public void MakeDev_LargeMajorAndMinor_GlibcLayout()
    {
        Assert.Equal(0x0801UL, LibC.MakeDev(8, 1));
        // The major's bits above 12 and the minor's above 8 go high (sys/sysmacros.h, gnu_dev_makedev).
        Assert.Equal(0x0000_1000_0010_0000UL, LibC.MakeDev(0x1000, 0x100));
    }

    [Fact]
    public void Message_Errno_TextAndNumber()
        => Assert.EndsWith("(errno 2)", LibC.Message(Errno.ENOENT));
}

using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Accelerator.Linux.Tests;

/// <summary>
/// <see cref="LinuxOpenFlags"/>: the numbers of the kernel headers per architecture (x86-64: asm-generic/fcntl.h;
/// arm64: arch/arm64/include/uapi/asm/fcntl.h), and the current table used for real against the kernel.
/// </summary>
public sealed class LinuxOpenFlagsTests : IDisposable
{
    private readonly string _work = Directory.CreateTempSubdirectory("accel-open-flags-").FullName;

    public void Dispose() => Directory.Delete(_work, recursive: true);

    [Fact]
    public void For_X64_AsmGenericNumbers()
        => Assert.Equal(
            new LinuxOpenFlags(Directory: Octal("200000"), NoFollow: Octal("400000"), Direct: Octal("40000"), LargeFile: Octal("100000")),
            LinuxOpenFlags.For(Architecture.X64));

    [Fact]
    public void For_Arm64_ArmNumbersWhereX64sDirectoryIsDirect()
    {
        var arm64 = LinuxOpenFlags.For(Architecture.Arm64);

        Assert.Equal(new LinuxOpenFlags(Directory: Octal("40000"), NoFollow: Octal("100000"), Direct: Octal("200000"), LargeFile: Octal("400000")), arm64);
        Assert.Equal(LinuxOpenFlags.For(Architecture.X64).Directory, arm64.Direct);
        Assert.Equal(LinuxOpenFlags.For(Architecture.X64).NoFollow, arm64.LargeFile);
        Assert.Equal(LinuxOpenFlags.For(Architecture.X64).LargeFile, arm64.NoFollow);
    }

    [Theory]
    [InlineData(Architecture.X64)]
    [InlineData(Architecture.Arm64)]
    public void For_EachArchitecture_FlagsAreDistinctSingleBitsApartFromTheCommonOnes(Architecture architecture)
    {
        var flags = LinuxOpenFlags.For(architecture);
        int[] bits = [flags.Directory, flags.NoFollow, flags.Direct, flags.LargeFile, LibC.O_CREAT, LibC.O_EXCL, LibC.O_TRUNC, LibC.O_CLOEXEC, LibC.O_PATH];

        Assert.All(bits, bit => Assert.Equal(1, int.PopCount(bit)));
        Assert.Equal(bits.Length, bits.Distinct().Count());
    }

    [Fact]
    public void For_UnknownArchitecture_Refused()
        => Assert.Throws<PlatformNotSupportedException>(() => LinuxOpenFlags.For(Architecture.Wasm));

    [Fact]
    public void LibC_ArchitectureDependentFlags_AreTheCurrentTable()
    {
        Assert.Equal(LinuxOpenFlags.For(RuntimeInformation.ProcessArchitecture), LinuxOpenFlags.Current);
        Assert.Equal(LinuxOpenFlags.Current.Directory, LibC.O_DIRECTORY);
        Assert.Equal(LinuxOpenFlags.Current.NoFollow, LibC.O_NOFOLLOW);
        Assert.Equal(LinuxOpenFlags.Current.Direct, LibC.O_DIRECT);
    }

    [Fact]
    public void Current_Directory_OpensADirectoryAndRefusesAFileWithEnotdir()
    {
        string file = Path.Combine(_work, "file");
        File.WriteAllText(file, "x");

        using (var directory = Open(_work, LibC.O_RDONLY | LinuxOpenFlags.Current.Directory, out _))
        {
            Assert.False(directory.IsInvalid);
        }

        using var notDirectory = Open(file, LibC.O_RDONLY | LinuxOpenFlags.Current.Directory, out int errno);
        Assert.True(notDirectory.IsInvalid);
        Assert.Equal(Errno.ENOTDIR, errno);
    }

    [Fact]
    public void Current_NoFollow_RefusesASymbolicLinkWithEloop()
    {
        string file = Path.Combine(_work, "file");
        File.WriteAllText(file, "x");
        string link = Path.Combine(_work, "link");
        File.CreateSymbolicLink(link, file);

        using var throughLink = Open(link, LibC.O_RDONLY | LinuxOpenFlags.Current.NoFollow, out int errno);

        Assert.True(throughLink.IsInvalid);
        Assert.Equal(Errno.ELOOP, errno);
    }

    [Fact]
    public void Current_LargeFile_IsWhatTheKernelSetsOnEveryOpenOfThisProcess()
    {
        // A 64-bit process gets O_LARGEFILE on every open (force_o_largefile), and F_GETFL reports it.
        string file = Path.Combine(_work, "file");
        File.WriteAllText(file, "x");

        using var handle = Open(file, LibC.O_RDONLY, out _);
        int flags = LibC.Fcntl(handle, LibC.F_GETFL, 0);

        Assert.True(flags >= 0);
        Assert.Equal(LinuxOpenFlags.Current.LargeFile, flags & LinuxOpenFlags.Current.LargeFile);
        Assert.Equal(0, flags & (LinuxOpenFlags.Current.Directory | LinuxOpenFlags.Current.NoFollow | LinuxOpenFlags.Current.Direct));
    }

    [Fact]
    public void Current_Direct_SetByFcntlIsReportedBack()
    {
        // tmpfs before Linux 6.6 refuses O_DIRECT; the working directory of the tests is on a disk file system.
        string file = Path.Combine(AppContext.BaseDirectory, $"direct-{Guid.NewGuid():N}");
        File.WriteAllText(file, "x");
        try
        {
            using var handle = Open(file, LibC.O_RDONLY, out _);
            int flags = LibC.Fcntl(handle, LibC.F_GETFL, 0);
            if (LibC.Fcntl(handle, LibC.F_SETFL, flags | LinuxOpenFlags.Current.Direct) != 0)
            {
                Assert.Equal(Errno.EINVAL, Marshal.GetLastPInvokeError()); // a file system without direct I/O
                return;
            }

            Assert.Equal(LinuxOpenFlags.Current.Direct, LibC.Fcntl(handle, LibC.F_GETFL, 0) & LinuxOpenFlags.Current.Direct);
        }
        finally
        {
            File.Delete(file);
        }
    }

    private static int Octal(string digits) => Convert.ToInt32(digits, 8);

    private static SafeFileHandle Open(string path, int flags, out int errno)
    {
        int fd = LibC.Open(path, flags | LibC.O_CLOEXEC);
        errno = fd < 0 ? Marshal.GetLastPInvokeError() : 0;
        return new SafeFileHandle(fd, ownsHandle: true);
    }
}

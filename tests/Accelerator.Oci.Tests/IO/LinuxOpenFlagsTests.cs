using System.Runtime.InteropServices;
using Accelerator.Oci.IO;
using Microsoft.Win32.SafeHandles;

namespace Accelerator.Oci.Tests.IO;

/// <summary>
/// <see cref="LinuxOpenFlags"/>: the numbers of the kernel headers per architecture (x86-64: asm-generic/fcntl.h;
/// arm64: arch/arm64/include/uapi/asm/fcntl.h), and the current table used for real against the kernel.
/// </summary>
public sealed class LinuxOpenFlagsTests : IDisposable
{
    private const int O_RDONLY = 0;
    private const int O_CLOEXEC = 0x80000;
    private const int ENOTDIR = 20;
    private const int ELOOP = 40;

    private readonly string _work = Directory.CreateTempSubdirectory("accel-open-flags-").FullName;

    public void Dispose() => Directory.Delete(_work, recursive: true);

    [Fact]
    public void For_X64_AsmGenericNumbers()
        => Assert.Equal(new LinuxOpenFlags(Directory: 0x10000, NoFollow: 0x20000, Direct: 0x4000), LinuxOpenFlags.For(Architecture.X64));

    [Fact]
    public void For_Arm64_ArmNumbersWhereX64sDirectoryIsDirect()
    {
        var arm64 = LinuxOpenFlags.For(Architecture.Arm64);

        Assert.Equal(new LinuxOpenFlags(Directory: 0x4000, NoFollow: 0x8000, Direct: 0x10000), arm64);
        Assert.Equal(LinuxOpenFlags.For(Architecture.X64).Directory, arm64.Direct);
    }

    [Fact]
    public void For_UnknownArchitecture_Refused()
        => Assert.Throws<PlatformNotSupportedException>(() => LinuxOpenFlags.For(Architecture.Wasm));

    [Fact]
    public void Current_DirectoryAndNoFollow_MeanWhatTheKernelSays()
    {
        string file = Path.Combine(_work, "file");
        File.WriteAllText(file, "x");
        string link = Path.Combine(_work, "link");
        File.CreateSymbolicLink(link, file);
        var flags = LinuxOpenFlags.Current;

        using (var directory = Open(_work, O_RDONLY | O_CLOEXEC | flags.Directory, out _))
        {
            Assert.False(directory.IsInvalid);
        }

        using (var notDirectory = Open(file, O_RDONLY | O_CLOEXEC | flags.Directory, out int errno))
        {
            Assert.True(notDirectory.IsInvalid);
            Assert.Equal(ENOTDIR, errno);
        }

        using (var throughLink = Open(link, O_RDONLY | O_CLOEXEC | flags.NoFollow, out int errno))
        {
            Assert.True(throughLink.IsInvalid);
            Assert.Equal(ELOOP, errno);
        }
    }

    private static SafeFileHandle Open(string path, int flags, out int errno)
    {
        int fd = OpenNative(path, flags, 0);
        errno = fd < 0 ? Marshal.GetLastPInvokeError() : 0;
        return new SafeFileHandle(fd, ownsHandle: true);
    }

#pragma warning disable SYSLIB1054 // LibraryImport needs unsafe code, which this test project does not allow.
    [DllImport("libc", EntryPoint = "open", SetLastError = true)]
    private static extern int OpenNative([MarshalAs(UnmanagedType.LPUTF8Str)] string path, int flags, int mode);
#pragma warning restore SYSLIB1054
}

using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Accelerator.Block.Disks;

public sealed partial class FileVirtualDisk
{
    // linux/falloc.h.
    private const int FallocKeepSize = 0x01;
    private const int FallocPunchHole = 0x02;
    private const int FallocZeroRange = 0x10;

    [LibraryImport("libc", EntryPoint = "fallocate", SetLastError = true)]
    private static partial int Fallocate(SafeFileHandle fd, int mode, long offset, long length);

    [LibraryImport("libc", EntryPoint = "fdatasync", SetLastError = true)]
    private static partial int FDataSync(SafeFileHandle fd);

    // False when the file system cannot do it (EOPNOTSUPP and friends): the caller writes zeros instead.
    private bool TryAllocate(int mode, long offset, long length)
    {
        if (length == 0)
        {
            return true;
        }

        return Fallocate(_handle, mode, offset, length) == 0;
    }

    private void Sync(SafeFileHandle handle)
    {
        if (FDataSync(handle) != 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            throw new IOException($"fdatasync of '{Path}' failed: {Marshal.GetPInvokeErrorMessage(errno)}.", errno);
        }
    }
}

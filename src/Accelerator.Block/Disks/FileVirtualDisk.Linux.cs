using System.Runtime.InteropServices;
using Accelerator.Linux;
using Microsoft.Win32.SafeHandles;

namespace Accelerator.Block.Disks;

public sealed partial class FileVirtualDisk
{
    private const int FallocKeepSize = LibC.FALLOC_FL_KEEP_SIZE;
    private const int FallocPunchHole = LibC.FALLOC_FL_PUNCH_HOLE;
    private const int FallocZeroRange = LibC.FALLOC_FL_ZERO_RANGE;

    private int _noWaitUnsupported;

    // Copies what the page cache holds of [offset, offset + destination.Length) without blocking; returns the count (0
    // when nothing was cached, the file system cannot say, or a signal interrupted it: the caller reads the rest).
    private int TryReadCached(long offset, Span<byte> destination)
    {
        if (Volatile.Read(ref _noWaitUnsupported) != 0 || destination.IsEmpty)
        {
            return 0;
        }

        int total = 0;
        while (total < destination.Length)
        {
            nint n = LibC.PRead2(_handle, destination[total..], offset + total, LibC.RWF_NOWAIT);
            if (n <= 0)
            {
                if (n < 0 && Marshal.GetLastPInvokeError() is Errno.EOPNOTSUPP or Errno.EINVAL)
                {
                    // A kernel or file system without RWF_NOWAIT for reads.
                    Volatile.Write(ref _noWaitUnsupported, 1);
                }

                break;
            }

            total += (int)n;
        }

        return total;
    }

    // False when the file system cannot do it (EOPNOTSUPP and friends): the caller writes zeros instead.
    private bool TryAllocate(int mode, long offset, long length)
    {
        if (length == 0)
        {
            return true;
        }

        return LibC.Fallocate(_handle, mode, offset, length) == 0;
    }

    private void Sync(SafeFileHandle handle) => LibC.FDataSync(handle, Path);
}

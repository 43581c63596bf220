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

    // linux/fs.h: fail with EAGAIN instead of waiting for the device.
    private const int RWF_NOWAIT = 0x08;

    private int _noWaitUnsupported;

    [LibraryImport("libc", EntryPoint = "preadv2", SetLastError = true)]
    private static unsafe partial nint PReadV2(SafeFileHandle fd, IoVec* iov, int count, long offset, int flags);

    [LibraryImport("libc", EntryPoint = "fdatasync", SetLastError = true)]
    private static partial int FDataSync(SafeFileHandle fd);

    // Copies what the page cache holds of [offset, offset + destination.Length) without blocking; returns the count (0
    // when nothing was cached, the file system cannot say, or a signal interrupted it: the caller reads the rest).
    private unsafe int TryReadCached(long offset, Span<byte> destination)
    {
        if (Volatile.Read(ref _noWaitUnsupported) != 0 || destination.IsEmpty)
        {
            return 0;
        }

        int total = 0;
        fixed (byte* start = destination)
        {
            while (total < destination.Length)
            {
                var vector = new IoVec { Base = start + total, Length = (nuint)(destination.Length - total) };
                nint n = PReadV2(_handle, &vector, 1, offset + total, RWF_NOWAIT);
                if (n <= 0)
                {
                    if (n < 0 && Marshal.GetLastPInvokeError() is 95 or 22)
                    {
                        // EOPNOTSUPP / EINVAL: a kernel or file system without RWF_NOWAIT for reads.
                        Volatile.Write(ref _noWaitUnsupported, 1);
                    }

                    break;
                }

                total += (int)n;
            }
        }

        return total;
    }

    [StructLayout(LayoutKind.Sequential)]
    private unsafe struct IoVec
    {
        public byte* Base;
        public nuint Length;
    }

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

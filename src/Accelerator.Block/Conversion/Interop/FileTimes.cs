using System.Runtime.InteropServices;

namespace Accelerator.Block.Conversion.Interop;

/// <summary>Nanosecond modification times, which <see cref="File.GetLastWriteTimeUtc(string)"/> rounds to 100 ns.</summary>
internal static unsafe partial class FileTimes
{
    private const int AtFdCwd = -100;
    private const int AtSymlinkNoFollow = 0x100;
    private const uint StatxMtime = 0x40;

    [LibraryImport("libc", EntryPoint = "statx", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Statx(int dirfd, string path, int flags, uint mask, byte* buffer);

    /// <summary>The modification time of <paramref name="path"/> (not following a final symlink).</summary>
    public static (long Seconds, uint Nanoseconds) GetModificationTime(string path)
    {
        // struct statx is 256 bytes (linux/stat.h): stx_mtime.tv_sec at 112, stx_mtime.tv_nsec at 120.
        byte* buffer = stackalloc byte[256];
        if (Statx(AtFdCwd, path, AtSymlinkNoFollow, StatxMtime, buffer) != 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            throw new IOException($"stat '{path}' failed: {Marshal.GetPInvokeErrorMessage(errno)} (errno {errno}).");
        }

        return (*(long*)(buffer + 112), *(uint*)(buffer + 120));
    }
}

using System.Runtime.InteropServices;

namespace Accelerator.Block.Conversion.Interop;

/// <summary>
/// What <see cref="FileInfo"/> does not give: nanosecond modification times (it rounds to 100 ns) and allocated sizes.
/// </summary>
internal static unsafe partial class FileStat
{
    /// <summary><c>S_IFSOCK</c>.</summary>
    public const uint SocketType = 0xC000;

    private const int AtFdCwd = -100;
    private const int AtSymlinkNoFollow = 0x100;
    private const uint StatxType = 0x1;
    private const uint StatxMtime = 0x40;
    private const uint StatxBlocks = 0x400;

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

    /// <summary>The bytes allocated to <paramref name="path"/> (stx_blocks × 512; not following a final symlink).</summary>
    public static long GetAllocatedBytes(string path)
    {
        // stx_blocks (uint64, 512-byte units) is at offset 48 of struct statx.
        byte* buffer = stackalloc byte[256];
        if (Statx(AtFdCwd, path, AtSymlinkNoFollow, StatxBlocks, buffer) != 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            throw new IOException($"stat '{path}' failed: {Marshal.GetPInvokeErrorMessage(errno)} (errno {errno}).");
        }

        return checked((long)(*(ulong*)(buffer + 48) * 512));
    }

    /// <summary>
    /// The file type bits (<c>S_IFMT</c> of <c>st_mode</c>) of <paramref name="path"/>, not following a final symlink;
    /// null when nothing is there.
    /// </summary>
    public static uint? TryGetFileType(string path)
    {
        // stx_mode (uint16) is at offset 28 of struct statx; S_IFMT is 0o170000.
        byte* buffer = stackalloc byte[256];
        if (Statx(AtFdCwd, path, AtSymlinkNoFollow, StatxType, buffer) != 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            if (errno == 2)
            {
                return null;
            }

            throw new IOException($"stat '{path}' failed: {Marshal.GetPInvokeErrorMessage(errno)} (errno {errno}).");
        }

        return *(ushort*)(buffer + 28) & 0xF000u;
    }

    /// <summary>Whether <paramref name="path"/> is a unix socket (not following a final symlink).</summary>
    public static bool IsSocket(string path) => TryGetFileType(path) == SocketType;
}

using System.Runtime.InteropServices;

namespace Accelerator.Block.Mounting;

/// <summary>mount(2) and umount2(2) for the file system on the loop device and the overlay above it.</summary>
internal static partial class BlockMountCalls
{
    public const ulong MS_RDONLY = 1;
    private const int EINVAL = 22;
    private const int EBUSY = 16;
    private const int ENOENT = 2;
    private const int MNT_DETACH = 2;
    private const int UMOUNT_NOFOLLOW = 8;

    [LibraryImport("libc", EntryPoint = "mount", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int MountNative(string source, string target, string fileSystemType, ulong flags, string? data);

    [LibraryImport("libc", EntryPoint = "umount2", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Umount2Native(string target, int flags);

    /// <summary>Mounts <paramref name="source"/> (a block device) with <paramref name="fileSystemType"/>.</summary>
    /// <exception cref="IOException">mount(2) failed.</exception>
    public static void Mount(string source, string target, string fileSystemType, ulong flags, string? data)
    {
        if (MountNative(source, target, fileSystemType, flags, data) != 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            throw new IOException($"mounting {fileSystemType} from {source} at '{target}' failed: {Marshal.GetPInvokeErrorMessage(errno)}.", errno);
        }
    }

    /// <summary>Mounts an overlay of <paramref name="lower"/> (read-only) under <paramref name="upper"/> at <paramref name="target"/>.</summary>
    /// <exception cref="IOException">A path cannot be passed to overlayfs, or mount(2) failed.</exception>
    public static void MountOverlay(string lower, string upper, string work, string target)
    {
        foreach (string path in new[] { lower, upper, work })
        {
            // overlayfs splits its options at ',' and ':'.
            if (path.AsSpan().IndexOfAny(",:\\") >= 0)
            {
                throw new IOException($"The overlay directory '{path}' contains ',', ':' or '\\', which overlayfs options cannot carry.");
            }
        }

        Mount("overlay", target, "overlay", 0, $"lowerdir={lower},upperdir={upper},workdir={work}");
    }

    /// <summary>Unmounts <paramref name="target"/>, detaching it lazily when busy.</summary>
    /// <returns>False when nothing was mounted there.</returns>
    /// <exception cref="IOException">umount2(2) failed for another reason.</exception>
    public static bool Unmount(string target)
    {
        if (Umount2Native(target, UMOUNT_NOFOLLOW) == 0)
        {
            return true;
        }

        int errno = Marshal.GetLastPInvokeError();
        if (errno == EBUSY && Umount2Native(target, MNT_DETACH | UMOUNT_NOFOLLOW) == 0)
        {
            return true;
        }

        errno = errno == EBUSY ? Marshal.GetLastPInvokeError() : errno;
        if (errno is EINVAL or ENOENT)
        {
            return false;
        }

        throw new IOException($"umount2 of '{target}' failed: {Marshal.GetPInvokeErrorMessage(errno)}.", errno);
    }
}

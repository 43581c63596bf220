namespace Accelerator.Linux;

/// <summary>
/// mount(2) of a block device's file system, read-only bind mounts, and unmounting any mount point (overlays are
/// mounted by <see cref="OverlayMount"/>).
/// </summary>
public static class FileSystemMount
{
    /// <summary>Mounts <paramref name="source"/> (a block device) with <paramref name="fileSystemType"/> at <paramref name="target"/>.</summary>
    /// <exception cref="IOException">mount(2) failed.</exception>
    public static void Mount(string source, string target, string fileSystemType, MountFlags flags, string? data)
    {
        int errno = LibC.Mount(source, target, fileSystemType, flags, data);
        if (errno != 0)
        {
            throw new IOException($"mounting {fileSystemType} from {source} at '{target}' failed: {System.Runtime.InteropServices.Marshal.GetPInvokeErrorMessage(errno)}.", errno);
        }
    }

    /// <summary>Bind-mounts <paramref name="source"/> read-only at <paramref name="target"/>.</summary>
    /// <exception cref="IOException">The bind mount or its read-only remount failed (then nothing stays mounted).</exception>
    public static void BindReadOnly(string source, string target)
    {
        int errno = LibC.Mount(source, target, null, MountFlags.Bind, null);
        if (errno != 0)
        {
            throw Error("bind mount at", target, errno);
        }

        // A bind mount takes MS_RDONLY only in a remount of itself (mount(2), "Creating a bind mount").
        errno = LibC.Mount(source, target, null, MountFlags.Bind | MountFlags.Remount | MountFlags.ReadOnly, null);
        if (errno != 0)
        {
            var error = Error("read-only remount of", target, errno);
            FileSystemMount.Unmount(target);
            throw error;
        }
    }

    /// <summary>
    /// Unmounts what is mounted at <paramref name="target"/> (an overlay or any other file system), detaching it
    /// lazily when busy; symbolic links are not followed.
    /// </summary>
    /// <param name="target">The mount point.</param>
    /// <returns>True when something was unmounted (outright or detached); false when nothing was mounted there.</returns>
    /// <exception cref="IOException">umount2(2) failed for another reason (for example, no permission).</exception>
    public static bool Unmount(string target)
    {
        ArgumentException.ThrowIfNullOrEmpty(target);
        int errno = LibC.Umount2(target, UnmountFlags.NoFollow);
        if (errno == 0)
        {
            return true;
        }

        if (errno == Errno.EBUSY)
        {
            errno = LibC.Umount2(target, UnmountFlags.Detach | UnmountFlags.NoFollow);
            if (errno == 0)
            {
                return true;
            }
        }

        return errno is Errno.EINVAL or Errno.ENOENT
            ? false
            : throw new IOException($"umount2 of '{target}' failed: {System.Runtime.InteropServices.Marshal.GetPInvokeErrorMessage(errno)}.", errno);
    }

    private static IOException Error(string call, string path, int errno)
        => new($"{call} of '{path}' failed: {System.Runtime.InteropServices.Marshal.GetPInvokeErrorMessage(errno)}.", errno);
}

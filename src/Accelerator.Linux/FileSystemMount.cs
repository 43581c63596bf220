namespace Accelerator.Linux;

/// <summary>mount(2) of a block device's file system and read-only bind mounts (overlays: <see cref="OverlayMount"/>).</summary>
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
            OverlayMount.Unmount(target);
            throw error;
        }
    }

    private static IOException Error(string call, string path, int errno)
        => new($"{call} of '{path}' failed: {System.Runtime.InteropServices.Marshal.GetPInvokeErrorMessage(errno)}.", errno);
}

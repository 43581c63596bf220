using Accelerator.Linux;
using Accelerator.Oci.Layers;

namespace Accelerator.Lazy.Mounting;

/// <summary>Mount-table queries and unmounting, for <c>accel mount</c> and <c>accel umount</c>.</summary>
public static class MountPoints
{
    /// <summary>Whether <paramref name="path"/> is a mount point in this mount namespace.</summary>
    public static bool IsMounted(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        return MountTable.IsMountPoint(path);
    }

    /// <summary>Unmounts <paramref name="path"/>, detaching it lazily when busy.</summary>
    /// <returns>False when nothing was mounted there.</returns>
    /// <exception cref="IOException">umount2(2) failed.</exception>
    public static bool Unmount(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        return OverlayMount.Unmount(Path.GetFullPath(path));
    }
}

using System.Runtime.InteropServices;

namespace Accelerator.Block.Mounting;

/// <summary>mount(2) for the file system on the loop device (the overlay above it and unmounting: <see cref="Accelerator.Oci.Layers.OverlayMount"/>).</summary>
internal static partial class BlockMountCalls
{
    public const ulong MS_RDONLY = 1;
    public const ulong MS_NOSUID = 2;
    public const ulong MS_NODEV = 4;

    [LibraryImport("libc", EntryPoint = "mount", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int MountNative(string source, string target, string fileSystemType, ulong flags, string? data);

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
}

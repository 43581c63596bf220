using Accelerator.Linux;
using Microsoft.Win32.SafeHandles;

namespace Accelerator.Fuse.Tests.Support;

/// <summary>
/// A real FUSE mount that nobody serves: <c>/dev/fuse</c> opened and mount(2) called, its INIT left waiting in the
/// connection. Enough for what only needs a live connection (the holder), at the cost of nothing answering.
/// </summary>
internal sealed class BareFuseMount : IDisposable
{
    private BareFuseMount(string mountPoint, SafeFileHandle device)
    {
        MountPoint = mountPoint;
        Device = device;
    }

    public string MountPoint { get; }

    /// <summary>This test's descriptor of the connection.</summary>
    public SafeFileHandle Device { get; }

    public static BareFuseMount Mount(string mountPoint)
    {
        var device = LibC.OpenReadWrite("/dev/fuse");
        string data = $"fd={(int)device.DangerousGetHandle()},rootmode=40000,user_id=0,group_id=0";
        int errno = LibC.Mount("accel-test", mountPoint, "fuse.accel-test", MountFlags.ReadOnly | MountFlags.NoSetUid | MountFlags.NoDevices, data);
        if (errno != 0)
        {
            device.Dispose();
            throw new IOException($"mount(2) of FUSE at {mountPoint} failed: {LibC.Message(errno)}", errno);
        }

        return new BareFuseMount(mountPoint, device);
    }

    /// <summary>Unmounts (lazily: nothing answers); the connection then ends.</summary>
    public void Unmount()
    {
        if (MountTable.IsMountPoint(MountPoint))
        {
            _ = LibC.Umount2(MountPoint, UnmountFlags.Detach);
        }
    }

    public void Dispose()
    {
        Unmount();
        Device.Dispose();
    }
}

using Accelerator.Fuse.FileSystem;
using Accelerator.Fuse.Takeover;
using Accelerator.Fuse.Tests.Support;
using Accelerator.Linux;
using Accelerator.Testing.Trees;

namespace Accelerator.Fuse.Tests.TestHost;

/// <summary>
/// <c>Accelerator.Fuse.Tests held-mount-host SOURCE MOUNTPOINT HOLDERDIR KEY</c>: mounts SOURCE at MOUNTPOINT, serves
/// it, deposits the connection in the holder of HOLDERDIR under KEY (state <c>served-by:PID</c>), prints <c>ready</c>
/// and serves until killed. It ignores release requests, as a hung owner would: the holder has to kill it.
/// </summary>
internal static class HeldMountHost
{
    public const string Command = "held-mount-host";

    public static async Task<int> RunAsync(string[] args)
    {
        if (args.Length != 4)
        {
            await Console.Error.WriteLineAsync($"usage: Accelerator.Fuse.Tests {Command} SOURCE MOUNTPOINT HOLDERDIR KEY");
            return 2;
        }

        using var index = DirectoryChunkIndex.Build(args[0]);
        var device = LibC.OpenReadWrite("/dev/fuse");
        string data = $"fd={(int)device.DangerousGetHandle()},rootmode=40000,user_id=0,group_id=0,allow_other,default_permissions";
        int errno = LibC.Mount("accel-test", args[1], "fuse.accel-test", MountFlags.ReadOnly | MountFlags.NoSetUid | MountFlags.NoDevices, data);
        if (errno != 0)
        {
            await Console.Error.WriteLineAsync($"mount failed: {LibC.Message(errno)}");
            return 1;
        }

        await using var session = new FuseSession(device, new ChunkIndexFileSystem(index, new DirectoryContentReader(index)));
        session.Start();
        await session.Initialized;

        // The root's attributes, cached (for a day) now: a successor that answers only LOOKUPs sees no GETATTR of it first.
        _ = LibC.Lstat(args[1]);
        await using var holder = await FuseHolderClient.ConnectAsync(args[2]);
        await holder.DepositAsync(args[3], device, $"served-by:{Environment.ProcessId}");
        Console.WriteLine("ready");
        await Task.Delay(Timeout.Infinite);
        return 0;
    }
}

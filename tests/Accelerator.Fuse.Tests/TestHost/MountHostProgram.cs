using Accelerator.Fuse.FileSystem;
using Accelerator.Fuse.Tests.Support;
using Accelerator.Testing.Trees;
using Microsoft.Extensions.Logging;

namespace Accelerator.Fuse.Tests.TestHost;

/// <summary>
/// The test assembly's entry point, unused by the test runner: <c>Accelerator.Fuse.Tests mount-host SOURCE MOUNTPOINT</c>
/// mounts SOURCE (through <see cref="DirectoryChunkIndex"/>) at MOUNTPOINT with unmount-on-signal (warnings on stderr),
/// prints <c>ready</c>, and exits 0 once the mount is gone (or, with <see cref="HandoverVariable"/>, once it stopped
/// serving it and left it mounted).
/// </summary>
public static class MountHostProgram
{
    /// <summary>Set to 1, the host calls <see cref="FuseHandover.Begin"/> once mounted.</summary>
    public const string HandoverVariable = "ACCEL_TEST_HANDOVER";

    public static async Task<int> Main(string[] args)
    {
        if (args is [HeldMountHost.Command, ..])
        {
            return await HeldMountHost.RunAsync(args[1..]);
        }

        if (args.Length != 3 || args[0] != "mount-host")
        {
            await Console.Error.WriteLineAsync("usage: Accelerator.Fuse.Tests mount-host SOURCE MOUNTPOINT");
            return 2;
        }

        using var index = DirectoryChunkIndex.Build(args[1]);
        using var logging = new LoggerFactory([new StderrLoggerProvider()]);
        var mount = await FuseMount.MountAsync(args[2], new ChunkIndexFileSystem(index, new DirectoryContentReader(index)), new FuseMountOptions { UnmountOnSignal = true }, logging);
        await using (mount)
        {
            if (Environment.GetEnvironmentVariable(HandoverVariable) == "1")
            {
                // As a daemon does when a successor takes over: signals and disposing leave the mount to it.
                FuseHandover.Begin();
            }

            Console.WriteLine("ready");
            await mount.Completion;
            if (mount.LeavesMounted)
            {
                Console.WriteLine("left mounted");
            }
        }

        return 0;
    }
}

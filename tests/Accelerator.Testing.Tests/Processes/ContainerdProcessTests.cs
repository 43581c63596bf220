using Accelerator.Testing.Processes;

namespace Accelerator.Testing.Tests.Processes;

/// <summary><see cref="ContainerdProcess"/> with real containerd and runc: it serves, and disposing leaves nothing behind.</summary>
public sealed class ContainerdProcessTests : IDisposable
{
    private readonly string _rootfs = Directory.CreateTempSubdirectory("accel-containerd-rootfs-").FullName;

    public void Dispose() => Directory.Delete(_rootfs, recursive: true);

    [Fact]
    public async Task DisposeAsync_ContainerStillRunning_RemovesTaskMountsRuncStateAndDirectory()
    {
        ContainerdProcess.WriteBusyboxRootfs(_rootfs);
        var containerd = await ContainerdProcess.StartAsync();
        string directory = containerd.Directory;
        string runcState = Path.Combine("/run/containerd/runc", containerd.Namespace);

        await containerd.CtrAsync(["run", "--detach", "--rootfs", _rootfs, "left-running", "/bin/sh", "-c", "exec sleep 6133"]);
        string tasks = await containerd.CtrAsync(["tasks", "list"]);
        bool runcStateExisted = Directory.Exists(Path.Combine(runcState, "left-running"));
        bool sleepRan = Directory.EnumerateDirectories("/proc").Any(IsOurSleep);
        await containerd.DisposeAsync();

        Assert.Contains("RUNNING", tasks, StringComparison.Ordinal);
        Assert.True(runcStateExisted, "runc kept no state in the namespace's directory");
        Assert.True(sleepRan);
        Assert.False(Directory.Exists(directory));
        Assert.False(Directory.Exists(runcState));
        Assert.DoesNotContain(File.ReadLines("/proc/self/mountinfo"), line => line.Contains(directory, StringComparison.Ordinal));
        Assert.DoesNotContain(Directory.EnumerateDirectories("/proc"), IsOurSleep);
    }

    [Fact]
    public async Task CtrAsync_Run_OutputReturned()
    {
        ContainerdProcess.WriteBusyboxRootfs(_rootfs);
        await using var containerd = await ContainerdProcess.StartAsync();

        string output = await containerd.CtrAsync(["run", "--rm", "--rootfs", _rootfs, "echo", "/bin/busybox", "echo", "from a container"]);

        Assert.Equal("from a container\n", output.ReplaceLineEndings("\n"));
    }

    private static bool IsOurSleep(string procDirectory)
    {
        try
        {
            return File.ReadAllText(Path.Combine(procDirectory, "cmdline")) == "sleep\06133\0";
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }
}

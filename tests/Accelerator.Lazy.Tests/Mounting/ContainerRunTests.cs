using Accelerator.Linux;
using Accelerator.Lazy.Mounting;
using Accelerator.Oci.Registry;
using Accelerator.Testing.Processes;

namespace Accelerator.Lazy.Tests.Mounting;

/// <summary>
/// A container started by containerd and runc (<c>ctr run --rootfs</c>) on a writable lazy mount of an image holding a
/// static busybox: its process is loaded from the mount and reads its files through it.
/// </summary>
public sealed class ContainerRunTests : IAsyncLifetime
{
    private const string Greeting = "hello from a lazily mounted image\n";

    private readonly string _work = Directory.CreateTempSubdirectory("accel-ctr-").FullName;
    private readonly RegistryClient _client = new(new RegistryOptions { PlainHttp = true });
    private ContainerdProcess _containerd = null!;

    public async Task InitializeAsync() => _containerd = await ContainerdProcess.StartAsync();

    public async Task DisposeAsync()
    {
        if (_containerd is not null)
        {
            await _containerd.DisposeAsync();
        }

        _client.Dispose();
        Directory.Delete(_work, recursive: true);
    }

    [Fact]
    public async Task CtrRun_RootfsOnLazyMount_ContainerReadsItsFiles()
    {
        string tree = ContainerdProcess.WriteBusyboxRootfs(Directory.CreateDirectory(Path.Combine(_work, "tree")).FullName);
        await File.WriteAllTextAsync(Path.Combine(tree, "etc", "greeting"), Greeting);
        var source = await LazyMountHarness.ImageFromDirectoryAsync(tree, Directory.CreateDirectory(Path.Combine(_work, "image")).FullName);
        await LazyMountHarness.ConvertBesideAsync(source);
        var mounter = LazyMountHarness.CreateMounter(_client, _work);
        string mountPoint = Directory.CreateDirectory(Path.Combine(_work, "rootfs")).FullName;

        string output;
        long fetched;
        await using (var mounted = (LazyMountedImage)await mounter.MountAsync(source, mountPoint, new MountOptions()))
        {
            output = await _containerd.CtrAsync(["run", "--rm", "--rootfs", mountPoint, "lazy-" + Guid.NewGuid().ToString("N")[..8],
                "/bin/sh", "-c", "cat /etc/greeting && echo written > /tmp-file && cat /tmp-file"]);
            fetched = mounted.Statistics.BytesFetched;
            Assert.True(File.Exists(Path.Combine(mounted.UpperDirectory!, "tmp-file")));
        }

        Assert.Equal(Greeting + "written\n", output.ReplaceLineEndings("\n"));
        Assert.True(fetched > new FileInfo("/bin/busybox").Length / 4, $"only {fetched} bytes fetched: the container did not run from the mount");
        Assert.False(MountTable.IsMountPoint(mountPoint));
    }
}

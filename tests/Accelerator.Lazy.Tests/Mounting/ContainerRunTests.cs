using System.Diagnostics;
using Accelerator.Lazy.Mounting;
using Accelerator.Oci.Registry;
using Accelerator.Testing.Images;

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
    private Process? _containerd;

    private string Address => Path.Combine(_work, "containerd.sock");

    public async Task InitializeAsync()
    {
        string config = Path.Combine(_work, "containerd.toml");
        await File.WriteAllTextAsync(config, $"""
            version = 2
            root = "{_work}/containerd-root"
            state = "{_work}/containerd-state"
            disabled_plugins = ["io.containerd.grpc.v1.cri"]
            [grpc]
              address = "{Address}"
            """);
        var start = new ProcessStartInfo("containerd") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add("--config");
        start.ArgumentList.Add(config);
        _containerd = Process.Start(start)!;
        _ = _containerd.StandardOutput.ReadToEndAsync();
        _ = _containerd.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (!File.Exists(Address))
        {
            Assert.False(_containerd.HasExited, "containerd exited");
            await Task.Delay(50, timeout.Token);
        }
    }

    public async Task DisposeAsync()
    {
        if (_containerd is { HasExited: false })
        {
            Process.Start("kill", ["-TERM", _containerd.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])!.WaitForExit();
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
            try
            {
                await _containerd.WaitForExitAsync(timeout.Token);
            }
            catch (OperationCanceledException)
            {
                _containerd.Kill(entireProcessTree: true);
            }
        }

        _containerd?.Dispose();
        _client.Dispose();
        Directory.Delete(_work, recursive: true);
    }

    [Fact]
    public async Task CtrRun_RootfsOnLazyMount_ContainerReadsItsFiles()
    {
        string tree = Directory.CreateDirectory(Path.Combine(_work, "tree")).FullName;
        Directory.CreateDirectory(Path.Combine(tree, "bin"));
        Directory.CreateDirectory(Path.Combine(tree, "etc"));
        File.Copy("/bin/busybox", Path.Combine(tree, "bin", "busybox"));
        File.CreateSymbolicLink(Path.Combine(tree, "bin", "sh"), "busybox");
        await File.WriteAllTextAsync(Path.Combine(tree, "etc", "greeting"), Greeting);
        var source = await LazyMountHarness.ImageFromDirectoryAsync(tree, Directory.CreateDirectory(Path.Combine(_work, "image")).FullName);
        await LazyMountHarness.ConvertBesideAsync(source);
        var mounter = LazyMountHarness.CreateMounter(_client, _work);
        string mountPoint = Directory.CreateDirectory(Path.Combine(_work, "rootfs")).FullName;

        string output;
        long fetched;
        await using (var mounted = (LazyMountedImage)await mounter.MountAsync(source, mountPoint, new MountOptions()))
        {
            output = await ExternalTool.RunAsync("ctr", ["--address", Address, "run", "--rm", "--rootfs", mountPoint, "lazy-" + Guid.NewGuid().ToString("N")[..8],
                "/bin/sh", "-c", "cat /etc/greeting && echo written > /tmp-file && cat /tmp-file"]);
            fetched = mounted.Statistics.BytesFetched;
            Assert.True(File.Exists(Path.Combine(mounted.UpperDirectory!, "tmp-file")));
        }

        Assert.Equal(Greeting + "written\n", output.ReplaceLineEndings("\n"));
        Assert.True(fetched > new FileInfo("/bin/busybox").Length / 4, $"only {fetched} bytes fetched: the container did not run from the mount");
        Assert.False(MountPoints.IsMounted(mountPoint));
    }
}

using Accelerator.Testing.Images;
using Accelerator.Testing.Processes;
using Accelerator.Testing.Registry;
using Accelerator.Testing.Trees;

namespace Accelerator.IntegrationTests.Containerd;

/// <summary>
/// A real <c>accel snapshotter</c> process, a private containerd using it as the proxy snapshotter <c>accel</c>, a real
/// docker-registry holding the Debian corpus's three-layer image (deletions, an opaque directory), and umoci's unpack of
/// that image as the expected tree. The image is pulled once, with <c>ctr image pull --snapshotter accel</c>.
/// </summary>
public sealed class SnapshotterContainerdFixture : IAsyncLifetime
{
    public const string ReadyLine = "Snapshotter listening on";

    // Short, like /var/lib/accel and /run/accel: the overlay options of a container name every layer's directory.
    public string Directory { get; } = System.IO.Directory.CreateTempSubdirectory("accel-sc-").FullName;

    public string Root => Path.Combine(Directory, "root");

    public string Socket => Path.Combine(Directory, "run", "snapshotter.sock");

    public DockerRegistryProcess Registry { get; private set; } = null!;

    public ContainerdProcess Containerd { get; private set; } = null!;

    public AccelProcess Snapshotter { get; private set; } = null!;

    public DebianImage Image { get; private set; } = null!;

    public string Reference { get; private set; } = "";

    public TreeSnapshot Expected { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Image = await DebianImageCorpus.GetAsync(DebianImageCorpus.Layered);
        Registry = await DockerRegistryProcess.StartAsync();
        await Image.PushAsync(Registry.Host, "corpus/layered");
        Reference = $"{Registry.Host}/corpus/layered:{Image.Tag}";
        string rootfs = await Image.UnpackWithUmociAsync(Path.Combine(Directory, "umoci"));
        Expected = TreeSnapshot.Capture(rootfs);
        System.IO.Directory.Delete(Path.GetDirectoryName(rootfs)!, recursive: true);

        await StartSnapshotterAsync();
        var options = new ContainerdProcessOptions();
        options.ProxySnapshotters["accel"] = Socket;
        Containerd = await ContainerdProcess.StartAsync(options);
        await Containerd.CtrAsync(["image", "pull", "--plain-http", "--snapshotter", "accel", Reference]);
    }

    /// <summary>Stops <c>accel snapshotter</c> with SIGTERM (as systemd does) and starts it again on the same root and socket.</summary>
    public async Task RestartSnapshotterAsync()
    {
        Assert.Equal(0, await Snapshotter.TerminateAsync());
        await Snapshotter.DisposeAsync();
        await StartSnapshotterAsync();
        await Containerd.WaitForSnapshotterAsync("accel");
    }

    public async Task DisposeAsync()
    {
        if (Containerd is not null)
        {
            await Containerd.DisposeAsync();
        }

        if (Snapshotter is not null)
        {
            await Snapshotter.DisposeAsync();
        }

        if (Registry is not null)
        {
            await Registry.DisposeAsync();
        }

        System.IO.Directory.Delete(Directory, recursive: true);
    }

    private async Task StartSnapshotterAsync()
    {
        Snapshotter = AccelProcess.Start("snapshotter", "--address", Socket, "--root", Root);
        await Snapshotter.WaitForOutputAsync(ReadyLine, TimeSpan.FromMinutes(1));
    }
}

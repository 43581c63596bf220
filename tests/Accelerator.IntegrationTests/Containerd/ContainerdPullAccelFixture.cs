using Accelerator.Lazy.Conversion;
using Accelerator.Linux;
using Accelerator.Oci.Registry;
using Accelerator.Oci.Resolution;
using Accelerator.Testing.Images;
using Accelerator.Testing.Processes;
using Accelerator.Testing.Registry;

namespace Accelerator.IntegrationTests.Containerd;

/// <summary>
/// The node as <c>ctr</c> users run it: a real docker-registry with the corpus's <c>layered</c> image and its lazy variant
/// (<c>TAG-accel</c>), the real <c>accel snapshotter</c> process (root and socket in a short temporary directory), and a
/// private containerd with it as the proxy snapshotter <c>accel</c>.
/// </summary>
public sealed class ContainerdPullAccelFixture : IAsyncLifetime
{
    public const string Repository = "corpus/layered";

    // Short (/tmp/acp-XXXXXX): the snapshotter's lower directories go into one page of mount options.
    public string WorkDirectory { get; } = Directory.CreateTempSubdirectory("acp-").FullName;

    public string SnapshotterAddress => Path.Combine(WorkDirectory, "run", "snapshotter.sock");

    public DockerRegistryProcess Registry { get; private set; } = null!;

    public AccelProcess Snapshotter { get; private set; } = null!;

    public ContainerdProcess Containerd { get; private set; } = null!;

    public RegistryClient Client { get; } = new(new RegistryOptions { PlainHttp = true, DockerConfigPath = TestRegistryOptions.NoDockerConfig });

    public DebianImage Image { get; private set; } = null!;

    public ImageReference Reference { get; private set; } = null!;

    /// <summary>The source image's layer blobs: none of them may be fetched when the snapshotter serves the image.</summary>
    public IReadOnlyList<Digest> Layers { get; private set; } = [];

    public async Task InitializeAsync()
    {
        Registry = await DockerRegistryProcess.StartAsync();
        Image = await DebianImageCorpus.GetAsync(DebianImageCorpus.Layered);
        await Image.PushAsync(Registry.Host, Repository);
        Reference = ImageReference.Parse($"{Registry.Host}/{Repository}:{Image.Tag}");
        var store = Client.GetStore(Reference.Registry);
        await LazyConverter.ConvertAsync(store, Reference, store, LazyConverter.DefaultTarget(Reference));
        Layers = [.. (await ImageResolver.ResolveAsync(store, Reference)).Layers.Select(l => l.Digest)];

        Snapshotter = AccelProcess.Start(
            "snapshotter", "--address", SnapshotterAddress, "--root", Path.Combine(WorkDirectory, "root"), "--plain-http");
        await Snapshotter.WaitForOutputAsync("Snapshotter listening on", TimeSpan.FromMinutes(1));
        var options = new ContainerdProcessOptions();
        options.ProxySnapshotters["accel"] = SnapshotterAddress;
        Containerd = await ContainerdProcess.StartAsync(options);
    }

    public async Task DisposeAsync()
    {
        // containerd first (its containers and mounts use the snapshotter's), then the snapshotter (SIGTERM: it
        // unmounts what it mounted), then the registry.
        if (Containerd is not null)
        {
            await Containerd.DisposeAsync();
        }

        if (Snapshotter is not null)
        {
            await Snapshotter.TerminateAsync();
            await Snapshotter.DisposeAsync();
        }

        if (Registry is not null)
        {
            await Registry.DisposeAsync();
        }

        Client.Dispose();
        // Whatever a snapshotter that failed left mounted; deepest first.
        FuseHolderProcesses.StopUnder(WorkDirectory);
        foreach (string mountPoint in MountTable.MountPointsUnder(MountTable.Read(), WorkDirectory))
        {
            FileSystemMount.Unmount(mountPoint);
        }

        Directory.Delete(WorkDirectory, recursive: true);
    }

    /// <summary>How many GETs of <paramref name="blobs"/> the registry answered with content, so far.</summary>
    public int BlobGets(IEnumerable<Digest> blobs)
    {
        var wanted = blobs.Select(b => $"GET /v2/{Repository}/blobs/{b} ").ToList();
        return Registry.ReadLog().Split('\n').Count(line => wanted.Any(w => line.Contains(w, StringComparison.Ordinal)) && line.Contains("\" 200 ", StringComparison.Ordinal));
    }
}

using Accelerator.Containerd;
using Accelerator.Containerd.Api.Snapshots;
using Accelerator.Containerd.Pulling;
using Accelerator.Linux;
using Accelerator.Oci.Registry;
using Accelerator.Oci.Resolution;
using Accelerator.Testing.Images;
using Accelerator.Testing.Processes;
using Accelerator.Testing.Registry;
using Accelerator.Testing.Trees;

namespace Accelerator.IntegrationTests.Containerd;

/// <summary>
/// One real docker-registry holding the corpus's <c>layered</c> image (three layers, whiteouts, an opaque directory)
/// with umoci's unpack of it as the reference tree, and one private containerd (its own overlayfs snapshotter) that
/// <c>accel containerd pull</c> pulls into.
/// </summary>
public sealed class ContainerdPullFixture : IAsyncLifetime
{
    public string WorkDirectory { get; } = Directory.CreateTempSubdirectory("accel-ctrpull-").FullName;

    public DockerRegistryProcess Registry { get; private set; } = null!;

    public ContainerdProcess Containerd { get; private set; } = null!;

    public RegistryClient Client { get; } = new(new RegistryOptions { PlainHttp = true, DockerConfigPath = TestRegistryOptions.NoDockerConfig });

    public DebianImage Image { get; private set; } = null!;

    public ImageReference Reference { get; private set; } = null!;

    public TreeSnapshot Expected { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Registry = await DockerRegistryProcess.StartAsync();
        Containerd = await ContainerdProcess.StartAsync();
        Image = await DebianImageCorpus.GetAsync(DebianImageCorpus.Layered);
        await Image.PushAsync(Registry.Host, "corpus/layered");
        Reference = ImageReference.Parse($"{Registry.Host}/corpus/layered:{Image.Tag}");
        string rootfs = await Image.UnpackWithUmociAsync(Path.Combine(WorkDirectory, "umoci"));
        Expected = TreeSnapshot.Capture(rootfs);
        Directory.Delete(Path.GetDirectoryName(rootfs)!, recursive: true);
    }

    public async Task DisposeAsync()
    {
        if (Containerd is not null)
        {
            await Containerd.DisposeAsync();
        }

        if (Registry is not null)
        {
            await Registry.DisposeAsync();
        }

        Client.Dispose();
        Directory.Delete(WorkDirectory, recursive: true);
    }

    /// <summary>The chain IDs of <paramref name="image"/>'s layers, lowest first, from its config in the registry.</summary>
    public async Task<IReadOnlyList<string>> ChainIdsAsync(ImageReference image)
    {
        var resolved = await ImageResolver.ResolveAsync(Client.GetStore(image.Registry), image);
        return ContainerdImagePuller.ChainIds(resolved.Config.Rootfs!.DiffIds);
    }

    /// <summary>How many GETs of blobs of <paramref name="repository"/> the registry answered with content, so far.</summary>
    public int BlobGets(string repository, IEnumerable<Digest> blobs)
    {
        var wanted = blobs.Select(b => $"GET /v2/{repository}/blobs/{b} ").ToList();
        return Registry.ReadLog().Split('\n').Count(line => wanted.Any(w => line.Contains(w, StringComparison.Ordinal)) && line.Contains("\" 200 ", StringComparison.Ordinal));
    }

    /// <summary>
    /// The tree of committed snapshot <paramref name="chainId"/> as containerd mounts it: a read-only view through
    /// containerd's snapshots API, mounted here, captured, unmounted and removed.
    /// </summary>
    public async Task<TreeSnapshot> CaptureViewAsync(string snapshotter, string chainId)
    {
        using var channel = ContainerdChannel.ForUnixSocket(Containerd.Address);
        var snapshots = new Accelerator.Containerd.Api.Snapshots.Snapshots.SnapshotsClient(channel);
        var headers = ContainerdChannel.Headers(Containerd.Namespace);
        string key = "accel-test-view-" + Guid.NewGuid().ToString("N");
        // A root for containerd's GC: a snapshot no lease, image or container holds is collected at the next GC.
        var request = new ViewSnapshotRequest { Snapshotter = snapshotter, Key = key, Parent = chainId };
        request.Labels.Add("containerd.io/gc.root", DateTimeOffset.UtcNow.ToString("O"));
        var view = await snapshots.ViewAsync(request, headers);
        string target = Directory.CreateDirectory(Path.Combine(WorkDirectory, key)).FullName;
        try
        {
            var mount = Assert.Single(view.Mounts);
            if (mount.Type == "bind")
            {
                FileSystemMount.BindReadOnly(mount.Source, target);
            }
            else
            {
                string data = string.Join(',', mount.Options.Where(o => o is not ("ro" or "rw")));
                FileSystemMount.Mount(mount.Source, target, mount.Type, MountFlags.ReadOnly, data);
            }

            try
            {
                return TreeSnapshot.Capture(target);
            }
            finally
            {
                FileSystemMount.Unmount(target);
            }
        }
        finally
        {
            await snapshots.RemoveAsync(new RemoveSnapshotRequest { Snapshotter = snapshotter, Key = key }, headers);
            Directory.Delete(target);
        }
    }
}

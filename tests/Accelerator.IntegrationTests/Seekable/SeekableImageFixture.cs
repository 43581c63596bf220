using Accelerator.Oci.Registry;
using Accelerator.Seekable.Index;
using Accelerator.Testing.Images;
using Accelerator.Testing.Registry;
using Accelerator.Testing.Trees;

namespace Accelerator.IntegrationTests.Seekable;

/// <summary>
/// The layered Debian corpus image (<see cref="DebianImageCorpus.Layered"/>: base, packages, an app layer with whiteouts
/// and an opaque directory) in one real docker-registry, indexed in-process (<see cref="SeekableIndexer"/>, what
/// <c>accel index</c> runs, default 1 MiB minimum: the base and packages layers get an index, the 1 KiB app layer is
/// fetched whole at mount), with umoci's unpack of it as the reference tree; and the same image pushed again without
/// an index to another repository.
/// </summary>
public sealed class SeekableImageFixture : IAsyncLifetime
{
    public string WorkDirectory { get; } = Directory.CreateTempSubdirectory("accel-seekable-").FullName;

    public DockerRegistryProcess Registry { get; private set; } = null!;

    public RegistryClient Client { get; } = new(TestRegistryOptions.Create());

    public DebianImage Image { get; private set; } = null!;

    /// <summary>The indexed image.</summary>
    public ImageReference Indexed { get; private set; } = null!;

    /// <summary>The same image, without an index.</summary>
    public ImageReference Unindexed { get; private set; } = null!;

    /// <summary>umoci's unpack of the image.</summary>
    public TreeSnapshot Expected { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Registry = await DockerRegistryProcess.StartAsync();
        Image = await DebianImageCorpus.GetAsync(DebianImageCorpus.Layered);
        await Image.PushAsync(Registry.Host, "seekable/layered");
        await Image.PushAsync(Registry.Host, "seekable/unindexed");
        Indexed = ImageReference.Parse($"{Registry.Host}/seekable/layered:{Image.Tag}");
        Unindexed = ImageReference.Parse($"{Registry.Host}/seekable/unindexed:{Image.Tag}");
        await SeekableIndexer.IndexAsync(Client.GetStore(Indexed.Registry), Indexed);
        string rootfs = await Image.UnpackWithUmociAsync(Path.Combine(WorkDirectory, "umoci"));
        Expected = TreeSnapshot.Capture(rootfs);
        Directory.Delete(Path.GetDirectoryName(rootfs)!, recursive: true);
    }

    public async Task DisposeAsync()
    {
        if (Registry is not null)
        {
            await Registry.DisposeAsync();
        }

        Client.Dispose();
        Directory.Delete(WorkDirectory, recursive: true);
    }

    /// <summary>A new directory under the work directory.</summary>
    public string NewDirectory(string name) => Directory.CreateDirectory(Path.Combine(WorkDirectory, name + "-" + Guid.NewGuid().ToString("N")[..8])).FullName;

    /// <summary>The registry's file holding blob <paramref name="digest"/> (docker-registry's filesystem driver layout).</summary>
    public string BlobFile(Digest digest)
        => Path.Combine(Registry.StoragePath, "docker", "registry", "v2", "blobs", digest.Algorithm, digest.Hex[..2], digest.Hex, "data");
}

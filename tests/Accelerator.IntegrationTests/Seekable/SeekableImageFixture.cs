using Accelerator.Oci.Registry;
using Accelerator.Seekable.Gzip;
using Accelerator.Seekable.Index;
using Accelerator.Testing.Images;
using Accelerator.Testing.Registry;
using Accelerator.Testing.Trees;

namespace Accelerator.IntegrationTests.Seekable;

/// <summary>
/// The layered Debian corpus image (<see cref="DebianImageCorpus.Layered"/>: base, packages, an app layer with whiteouts
/// and an opaque directory) in one real docker-registry, indexed in-process (as <c>accel index</c> does, default
/// 1 MiB minimum: the base and packages layers get an index, the 1 KiB app layer is
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
        await IndexAsync(Indexed, minLayerSize: 1 << 20);
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

    /// <summary>
    /// Indexes every gzip layer of <paramref name="image"/> of at least <paramref name="minLayerSize"/> bytes (each blob
    /// read once, verified) and publishes the index beside it, as <c>accel index</c> does.
    /// </summary>
    public async Task IndexAsync(ImageReference image, long minLayerSize)
    {
        var store = Client.GetStore(image.Registry);
        var manifest = await store.GetManifestAsync(image);
        var indexes = new List<GzipLayerIndex>();
        foreach (Descriptor layer in manifest.Manifest!.Layers.Where(l => l.Size >= minLayerSize))
        {
            await using var blob = await store.Blobs.OpenReadAsync(BlobAddress.For(image.Repository, layer));
            indexes.Add(await GzipIndexBuilder.BuildAsync(blob, layer));
        }

        await SeekableIndexPublisher.PublishAsync(store, image, manifest.Descriptor, indexes, new GzipIndexOptions().SpanSize);
    }

    /// <summary>A new directory under the work directory.</summary>
    public string NewDirectory(string name) => Directory.CreateDirectory(Path.Combine(WorkDirectory, name + "-" + Guid.NewGuid().ToString("N")[..8])).FullName;

    /// <summary>The registry's file holding blob <paramref name="digest"/> (docker-registry's filesystem driver layout).</summary>
    public string BlobFile(Digest digest)
        => Path.Combine(Registry.StoragePath, "docker", "registry", "v2", "blobs", digest.Algorithm, digest.Encoded[..2], digest.Encoded, "data");
}

using System.Collections.Concurrent;
using Accelerator.Block.Conversion;
using Accelerator.Lazy.Conversion;
using Accelerator.Oci.Registry;
using Accelerator.Testing.Images;
using Accelerator.Testing.Processes;
using Accelerator.Testing.Registry;
using Accelerator.Testing.Trees;

namespace Accelerator.IntegrationTests.RealImages;

/// <summary>The tests sharing one <see cref="DebianCorpusFixture"/>.</summary>
[CollectionDefinition(Name)]
public sealed class DebianCorpusCollection : ICollectionFixture<DebianCorpusFixture>
{
    public const string Name = "debian-corpus";
}

/// <summary>
/// The real Debian images of <see cref="DebianImageCorpus"/> pushed to one real docker-registry, each with umoci's
/// unpack as the reference tree and its lazy and block variants converted once (on first use), plus one containerd
/// to run containers on the mounts.
/// </summary>
public sealed class DebianCorpusFixture : IAsyncLifetime
{
    private readonly ConcurrentDictionary<string, Lazy<Task<CorpusEntry>>> _entries = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, Lazy<Task>> _conversions = new(StringComparer.Ordinal);

    public string WorkDirectory { get; } = Directory.CreateTempSubdirectory("accel-real-images-").FullName;

    public DockerRegistryProcess Registry { get; private set; } = null!;

    public ContainerdProcess Containerd { get; private set; } = null!;

    public RegistryClient Client { get; } = new(new RegistryOptions { PlainHttp = true, DockerConfigPath = TestRegistryOptions.NoDockerConfig });

    public async Task InitializeAsync()
    {
        Registry = await DockerRegistryProcess.StartAsync();
        Containerd = await ContainerdProcess.StartAsync();
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

    /// <summary>A new directory under the work directory.</summary>
    public string NewDirectory(string name) => Directory.CreateDirectory(Path.Combine(WorkDirectory, name + "-" + Guid.NewGuid().ToString("N")[..8])).FullName;

    /// <summary>The corpus image <paramref name="name"/>, pushed to the registry, with umoci's unpack of it.</summary>
    public Task<CorpusEntry> GetAsync(string name) => _entries.GetOrAdd(name, n => new Lazy<Task<CorpusEntry>>(() => LoadAsync(n))).Value;

    /// <summary>Converts the image to its lazy variant (<c>TAG-accel</c>) in the registry, once.</summary>
    public Task EnsureLazyVariantAsync(string name) => _conversions.GetOrAdd("lazy:" + name, _ => new Lazy<Task>(async () =>
    {
        var entry = await GetAsync(name);
        var store = Client.GetStore(entry.Reference.Registry);
        await LazyConverter.ConvertAsync(store, entry.Reference, store, LazyConverter.DefaultTarget(entry.Reference));
    })).Value;

    /// <summary>Converts the image to its block variant (<c>TAG-accel-block</c>, ext4) in the registry, once.</summary>
    public Task EnsureBlockVariantAsync(string name) => _conversions.GetOrAdd("block:" + name, _ => new Lazy<Task>(async () =>
    {
        var entry = await GetAsync(name);
        var store = Client.GetStore(entry.Reference.Registry);
        await BlockConverter.ConvertAsync(store, entry.Reference, store, BlockConverter.DefaultTarget(entry.Reference),
            new BlockConvertOptions { TempDirectory = WorkDirectory });
    })).Value;

    private async Task<CorpusEntry> LoadAsync(string name)
    {
        DebianImage image = await DebianImageCorpus.GetAsync(name);
        string repository = "corpus/" + name;
        await image.PushAsync(Registry.Host, repository);
        string rootfs = await image.UnpackWithUmociAsync(Path.Combine(WorkDirectory, "umoci-" + name));
        var reference = TreeSnapshot.Capture(rootfs);
        Directory.Delete(Path.GetDirectoryName(rootfs)!, recursive: true);
        return new CorpusEntry(image, ImageReference.Parse($"{Registry.Host}/{repository}:{image.Tag}"), reference);
    }
}

/// <summary>A corpus image in the fixture's registry.</summary>
/// <param name="Image">The image (its layout, command and expected output).</param>
/// <param name="Reference">The image in the registry.</param>
/// <param name="Expected">umoci's unpack of the image.</param>
public sealed record CorpusEntry(DebianImage Image, ImageReference Reference, TreeSnapshot Expected);

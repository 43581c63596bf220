using Accelerator.Testing.Samples;
using Accelerator.Testing.Images;
using Accelerator.Testing.Registry;
using Accelerator.Testing.Trees;

namespace Accelerator.Snapshots.Tests.Support;

/// <summary>The tests sharing one <see cref="SnapshotFixture"/>.</summary>
[CollectionDefinition(Name)]
public sealed class SnapshotCollection : ICollectionFixture<SnapshotFixture>
{
    public const string Name = "snapshots";
}

/// <summary>
/// A real docker-registry on loopback holding the conformance image (built with umoci and GNU tar) and generated
/// sample images, with umoci's unpack of each as the reference tree.
/// </summary>
public sealed class SnapshotFixture : IAsyncLifetime
{
    private readonly Dictionary<string, Task<(ImageReference Image, TreeSnapshot Reference)>> _samples = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Task<(ImageReference Image, TreeSnapshot Reference)>> _blockSamples = new(StringComparer.Ordinal);

    public string WorkDirectory { get; } = Directory.CreateTempSubdirectory("accel-snapshot-tests-").FullName;

    public ConformanceImage Image { get; private set; } = null!;

    public TreeSnapshot ReferenceSnapshot { get; private set; } = null!;

    public DockerRegistryProcess Registry { get; private set; } = null!;

    /// <summary>The conformance image in the registry.</summary>
    public ImageReference ConformanceReference => ImageReference.Parse($"{Registry.Host}/conformance:{Image.Tag}");

    /// <summary>A new directory under the work directory.</summary>
    public string NewDirectory(string name) => Directory.CreateDirectory(Path.Combine(WorkDirectory, name + "-" + Guid.NewGuid().ToString("N")[..8])).FullName;

    public async Task InitializeAsync()
    {
        Registry = await DockerRegistryProcess.StartAsync();
        Image = await ConformanceImage.BuildAsync(WorkDirectory);
        await Image.PushAsync(Registry.Host, "conformance");
        string reference = await Image.UnpackWithUmociAsync(Path.Combine(WorkDirectory, "umoci-conformance"));
        ReferenceSnapshot = TreeSnapshot.Capture(reference);
    }

    /// <summary>
    /// A generated image pushed as <c>samples/NAME</c> (generated once per name), and umoci's unpack of it. Images with
    /// the same seed and per-layer size share their lowest layers byte for byte.
    /// </summary>
    public Task<(ImageReference Image, TreeSnapshot Reference)> SampleAsync(string name, SampleImageOptions options)
    {
        lock (_samples)
        {
            if (!_samples.TryGetValue(name, out var task))
            {
                task = CreateSampleAsync(name, options);
                _samples[name] = task;
            }

            return task;
        }
    }

    /// <summary>
    /// <see cref="SampleAsync"/>, with its block variant (<c>TAG-accel-block</c>, made by the block converter) pushed
    /// beside it (converted once per name).
    /// </summary>
    public Task<(ImageReference Image, TreeSnapshot Reference)> BlockSampleAsync(string name, SampleImageOptions options)
    {
        lock (_blockSamples)
        {
            if (!_blockSamples.TryGetValue(name, out var task))
            {
                task = ConvertSampleAsync(name, options);
                _blockSamples[name] = task;
            }

            return task;
        }
    }

    private async Task<(ImageReference, TreeSnapshot)> ConvertSampleAsync(string name, SampleImageOptions options)
    {
        var (image, reference) = await SampleAsync(name, options);
        using var client = new Accelerator.Oci.Registry.RegistryClient(new Accelerator.Oci.Registry.RegistryOptions { PlainHttp = true });
        var store = client.GetStore(image.Registry);
        await Accelerator.Block.Conversion.BlockConverter.ConvertAsync(
            store, image, store, Accelerator.Block.Conversion.BlockConverter.DefaultTarget(image),
            new Accelerator.Block.Conversion.BlockConvertOptions { TempDirectory = WorkDirectory, FreeBytes = 16L << 20 });
        return (image, reference);
    }

    private async Task<(ImageReference, TreeSnapshot)> CreateSampleAsync(string name, SampleImageOptions options)
    {
        string layout = Path.Combine(WorkDirectory, "layout-" + name);
        var sample = await SampleImageGenerator.WriteLayoutAsync(layout, options);
        await OciLayoutTools.PushAsync(layout, sample.Tag, Registry.Host, "samples/" + name);
        string rootfs = await OciLayoutTools.UnpackWithUmociAsync(layout, sample.Tag, Path.Combine(WorkDirectory, "umoci-" + name));
        var reference = TreeSnapshot.Capture(rootfs);
        Directory.Delete(Path.GetDirectoryName(rootfs)!, recursive: true);
        return (ImageReference.Parse($"{Registry.Host}/samples/{name}:{sample.Tag}"), reference);
    }

    public async Task DisposeAsync()
    {
        if (Registry is not null)
        {
            await Registry.DisposeAsync();
        }

        Image?.Dispose();
        Directory.Delete(WorkDirectory, recursive: true);
    }
}

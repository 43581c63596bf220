using Accelerator.Testing.Images;
using Accelerator.Testing.Registry;
using Accelerator.Testing.Trees;

namespace Accelerator.Lazy.Tests.Support;

/// <summary>The tests sharing one <see cref="LazyFixture"/>.</summary>
[CollectionDefinition(Name)]
public sealed class LazyCollection : ICollectionFixture<LazyFixture>
{
    public const string Name = "lazy";
}

/// <summary>
/// The conformance image (built once with umoci and GNU tar), umoci's unpack of it as the reference tree, and a real
/// docker-registry on loopback.
/// </summary>
public sealed class LazyFixture : IAsyncLifetime
{
    public string WorkDirectory { get; } = Directory.CreateTempSubdirectory("accel-lazy-tests-").FullName;

    public ConformanceImage Image { get; private set; } = null!;

    public string ReferenceRootfs { get; private set; } = null!;

    public TreeSnapshot ReferenceSnapshot { get; private set; } = null!;

    public DockerRegistryProcess Registry { get; private set; } = null!;

    /// <summary>A new directory under the work directory.</summary>
    public string NewDirectory(string name) => Directory.CreateDirectory(Path.Combine(WorkDirectory, name + "-" + Guid.NewGuid().ToString("N")[..8])).FullName;

    public async Task InitializeAsync()
    {
        Registry = await DockerRegistryProcess.StartAsync();
        Image = await ConformanceImage.BuildAsync(WorkDirectory);
        ReferenceRootfs = await Image.UnpackWithUmociAsync(Path.Combine(WorkDirectory, "umoci-bundle"));
        ReferenceSnapshot = TreeSnapshot.Capture(ReferenceRootfs);
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

using Accelerator.Testing.Images;
using Accelerator.Testing.Trees;

namespace Accelerator.Testing.Tests.Images;

/// <summary>The tests sharing one <see cref="ConformanceImageFixture"/>.</summary>
[CollectionDefinition(Name)]
public sealed class ConformanceImageCollection : ICollectionFixture<ConformanceImageFixture>
{
    public const string Name = "conformance image";
}

/// <summary>Builds the conformance image once and unpacks it with umoci, for all tests of the collection.</summary>
public sealed class ConformanceImageFixture : IAsyncLifetime
{
    private string? _bundleParent;

    public ConformanceImage Image { get; private set; } = null!;

    public string RootFs { get; private set; } = null!;

    public TreeSnapshot Snapshot { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Image = await ConformanceImage.BuildAsync();
        _bundleParent = Directory.CreateTempSubdirectory("accel-conformance-unpack-").FullName;
        RootFs = await Image.UnpackWithUmociAsync(Path.Combine(_bundleParent, "bundle"));
        Snapshot = TreeSnapshot.Capture(RootFs);
    }

    public Task DisposeAsync()
    {
        Image?.Dispose();
        if (_bundleParent is not null)
        {
            Directory.Delete(_bundleParent, recursive: true);
        }

        return Task.CompletedTask;
    }
}

using Accelerator.Oci.Model;
using Accelerator.Oci.Registry;
using Accelerator.Oci.Tests.Registry;
using Accelerator.Testing.Registry;

namespace Accelerator.Replication.Tests;

/// <summary>Three real registries for the replication tests: a source and two targets. Tests use their own repositories.</summary>
public sealed class ReplicationFixture : IAsyncLifetime
{
    public DockerRegistryProcess Source { get; private set; } = null!;

    public DockerRegistryProcess TargetA { get; private set; } = null!;

    public DockerRegistryProcess TargetB { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        var started = await Task.WhenAll(DockerRegistryProcess.StartAsync(), DockerRegistryProcess.StartAsync(), DockerRegistryProcess.StartAsync());
        (Source, TargetA, TargetB) = (started[0], started[1], started[2]);
    }

    public async Task DisposeAsync()
    {
        foreach (var registry in new[] { Source, TargetA, TargetB })
        {
            if (registry is not null)
            {
                await registry.DisposeAsync();
            }
        }
    }

    /// <summary>Pushes two single-platform images and an index naming both under <paramref name="tag"/>; returns the index.</summary>
    public static async Task<ManifestDocument> PushIndexAsync(RegistryClient client, string registry, string repository, string tag, int seed)
    {
        var amd = TestImage.Create(seed);
        var arm = TestImage.Create(seed + 1, false, 2000, 500);
        await amd.PushAsync(client, registry, repository, null);
        await arm.PushAsync(client, registry, repository, null);
        var index = ManifestDocument.From(new ImageIndex
        {
            Manifests =
            [
                amd.Manifest.Descriptor with { Platform = new Platform("linux", "amd64") },
                arm.Manifest.Descriptor with { Platform = new Platform("linux", "arm64", "v8") },
            ],
        });
        await client.PutManifestAsync(registry, repository, index, tag);
        return index;
    }
}

[CollectionDefinition(Name)]
public sealed class ReplicationCollection : ICollectionFixture<ReplicationFixture>
{
    public const string Name = "Replication";
}

using Accelerator.Oci.Copying;
using Accelerator.Oci.Layout;
using Accelerator.Oci.Mirrors;
using Accelerator.Oci.Pulling;
using Accelerator.Oci.Registry;
using Accelerator.Testing.Samples;
using Accelerator.Oci.Tests.Registry;
using Accelerator.Testing.Registry;
using Accelerator.Testing.Trees;

namespace Accelerator.Oci.Tests.Mirrors;

/// <summary>
/// Three real registries — an origin and two mirrors — holding generated images: <c>sample/app</c> everywhere,
/// <c>sample/partial</c> on the origin and mirror A only, <c>sample/big</c> (one large incompressible layer) on the origin
/// and mirror B. Also the tree <c>sample/app</c> unpacks to when pulled from the origin directly.
/// </summary>
public sealed class MirrorFixture : IAsyncLifetime
{
    public const string App = "sample/app";
    public const string Partial = "sample/partial";
    public const string Big = "sample/big";
    public const string Tag = "v1";

    public DockerRegistryProcess Origin { get; private set; } = null!;

    public DockerRegistryProcess MirrorA { get; private set; } = null!;

    public DockerRegistryProcess MirrorB { get; private set; } = null!;

    public string WorkDirectory { get; } = Directory.CreateTempSubdirectory("accel-mirrors-").FullName;

    public string AppLayout => Path.Combine(WorkDirectory, "app-layout");

    public string BigLayout => Path.Combine(WorkDirectory, "big-layout");

    public string PartialLayout => Path.Combine(WorkDirectory, "partial-layout");

    public TreeSnapshot AppTree { get; private set; } = null!;

    public Digest AppDigest { get; private set; }

    public async Task InitializeAsync()
    {
        var origin = DockerRegistryProcess.StartAsync();
        var a = DockerRegistryProcess.StartAsync();
        var b = DockerRegistryProcess.StartAsync();
        Origin = await origin;
        MirrorA = await a;
        MirrorB = await b;

        await SampleImageGenerator.WriteLayoutAsync(AppLayout, new SampleImageOptions { LayerCount = 6, TotalSize = 3 << 20, Seed = 11, Tag = Tag });
        await SampleImageGenerator.WriteLayoutAsync(PartialLayout, new SampleImageOptions { LayerCount = 2, TotalSize = 1 << 20, Seed = 12, Tag = Tag });
        await SampleImageGenerator.WriteLayoutAsync(BigLayout, new SampleImageOptions { LayerCount = 2, TotalSize = 24 << 20, Seed = 13, Tag = Tag, CompressibleFraction = 0 });

        using var client = new RegistryClient(RegistryFixture.Options());
        foreach (var registry in new[] { Origin, MirrorA, MirrorB })
        {
            await PushAsync(client, AppLayout, registry.Host, App);
        }

        await PushAsync(client, PartialLayout, Origin.Host, Partial);
        await PushAsync(client, PartialLayout, MirrorA.Host, Partial);
        await PushAsync(client, BigLayout, Origin.Host, Big);
        await PushAsync(client, BigLayout, MirrorB.Host, Big);

        string tree = Path.Combine(WorkDirectory, "app-from-origin");
        var pulled = await ImagePuller.PullAsync(client.GetStore(Origin.Host), Reference(Origin.Host, App), tree);
        AppTree = TreeSnapshot.Capture(tree);
        AppDigest = pulled.Image.Manifest.Digest;
        Directory.Delete(tree, recursive: true);
    }

    public static ImageReference Reference(string registry, string repository) => ImageReference.Parse($"{registry}/{repository}:{Tag}");

    /// <summary>Copies a generated layout's image to <paramref name="registry"/>.</summary>
    public static async Task PushAsync(RegistryClient client, string layout, string registry, string repository)
    {
        var source = ImageReference.Parse($"oci:{layout}:{Tag}");
        await ImageCopier.CopyAsync(OciImageLayout.Open(layout), source, client.GetStore(registry), Reference(registry, repository));
    }

    /// <summary>A client and mirror sets for <paramref name="registry"/> with the given mirrors (fast failure settings for tests).</summary>
    public static MirrorClient Mirrors(string registry, IEnumerable<string> mirrors, Action<MirrorOptions>? configure = null, TimeProvider? time = null, Action<RegistryOptions>? registryOptions = null, MirrorCapabilities capabilities = MirrorCapabilities.Pull)
    {
        var options = new MirrorOptions { StallTimeout = TimeSpan.FromSeconds(5), MinimumBackoff = TimeSpan.FromSeconds(30), MaximumBackoff = TimeSpan.FromMinutes(5), FailureThreshold = 2 };
        var set = new RegistryMirrors();
        foreach (string url in mirrors)
        {
            set.Mirrors.Add(MirrorEndpoint.Parse(url, capabilities));
        }

        options.Registries[registry] = set;
        configure?.Invoke(options);
        var configuration = MirrorConfiguration.Load(options);
        var clientOptions = RegistryFixture.Options(registryOptions);
        configuration.ApplyTo(clientOptions);
        // The origin client keeps real time (its retries wait on it); the mirror sets run on the given clock.
        var client = new RegistryClient(clientOptions);
        return new MirrorClient(client, new MirroredRegistries(configuration, client, time: time));
    }

    public async Task DisposeAsync()
    {
        foreach (var registry in new[] { Origin, MirrorA, MirrorB })
        {
            if (registry is not null)
            {
                await registry.DisposeAsync();
            }
        }

        Directory.Delete(WorkDirectory, recursive: true);
    }
}

/// <summary>A registry client and the mirror sets over it.</summary>
public sealed class MirrorClient(RegistryClient client, MirroredRegistries mirrors) : IDisposable
{
    public RegistryClient Client { get; } = client;

    public MirroredRegistries Registries { get; } = mirrors;

    public MirroredImageStore Store(string registry) => Registries.GetMirroredStore(registry) ?? throw new InvalidOperationException($"{registry} has no mirrors.");

    public MirrorHostStatistics Stats(string host) => Registries.GetStatistics().Single(s => s.Host == host);

    public void Dispose()
    {
        Registries.Dispose();
        Client.Dispose();
    }
}

[CollectionDefinition(Name)]
public sealed class MirrorCollection : ICollectionFixture<MirrorFixture>
{
    public const string Name = "Mirrors";
}

using Accelerator.Oci.Model;
using Accelerator.Oci.Registry;
using Accelerator.Testing.Registry;

namespace Accelerator.Oci.Tests.Registry;

/// <summary>Three real registries, started once for the registry tests: open, token auth, and htpasswd.</summary>
public sealed class RegistryFixture : IAsyncLifetime
{
    public const string User = "pusher";
    public const string Password = "s3cret-pass";

    public DockerRegistryProcess Open { get; private set; } = null!;

    public DockerRegistryProcess TokenProtected { get; private set; } = null!;

    public RegistryTokenServer TokenServer { get; private set; } = null!;

    public DockerRegistryProcess Htpasswd { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        TokenServer = await RegistryTokenServer.StartAsync(User, Password);
        var open = DockerRegistryProcess.StartAsync();
        var token = DockerRegistryProcess.StartAsync(new DockerRegistryOptions { TokenAuth = TokenServer.RegistryAuth });
        var basic = DockerRegistryProcess.StartAsync(new DockerRegistryOptions { HtpasswdUsers = new Dictionary<string, string> { [User] = Password } });
        Open = await open;
        TokenProtected = await token;
        Htpasswd = await basic;
    }

    public async Task DisposeAsync()
    {
        foreach (var registry in new[] { Open, TokenProtected, Htpasswd })
        {
            if (registry is not null)
            {
                await registry.DisposeAsync();
            }
        }

        if (TokenServer is not null)
        {
            await TokenServer.DisposeAsync();
        }
    }

    /// <summary>Options for plain-HTTP test registries, fast retries, and no docker config of the machine.</summary>
    public static RegistryOptions Options(Action<RegistryOptions>? configure = null) => TestRegistryOptions.Create(configure);
}

[CollectionDefinition(Name)]
public sealed class RegistryCollection : ICollectionFixture<RegistryFixture>
{
    public const string Name = "Registry";
}

/// <summary>A small generated image: config, layers of random bytes, and its manifest.</summary>
public sealed class TestImage
{
    private TestImage(byte[] config, IReadOnlyList<byte[]> layers, ManifestDocument manifest)
    {
        Config = config;
        Layers = layers;
        Manifest = manifest;
    }

    public byte[] Config { get; }

    public IReadOnlyList<byte[]> Layers { get; }

    public ManifestDocument Manifest { get; }

    public IEnumerable<(Descriptor Descriptor, byte[] Bytes)> Blobs
        => new[] { (Manifest.Manifest!.Config, Config) }.Concat(Manifest.Manifest.Layers.Zip(Layers, (d, b) => (d, b)));

    public static TestImage Create(int seed, bool docker = false, params int[] layerSizes)
    {
        var random = new Random(seed);
        var layers = (layerSizes.Length == 0 ? new[] { 1000, 3000 } : layerSizes).Select(size =>
        {
            // Real gzip streams, so that tools which sniff layers (skopeo) keep them as they are.
            byte[] raw = new byte[size];
            random.NextBytes(raw);
            var gz = new MemoryStream();
            using (var zip = new System.IO.Compression.GZipStream(gz, System.IO.Compression.CompressionLevel.Fastest, leaveOpen: true))
            {
                zip.Write(raw);
            }

            return gz.ToArray();
        }).ToList();
        byte[] config = System.Text.Encoding.UTF8.GetBytes("{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{\"Env\":[\"SEED=" + seed + "\"]},\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}}");
        var manifest = ManifestDocument.From(new ImageManifest
        {
            MediaType = docker ? MediaTypes.DockerManifest : MediaTypes.OciManifest,
            Config = Descriptor.FromContent(docker ? MediaTypes.DockerConfig : MediaTypes.OciConfig, config),
            Layers = layers.Select(l => Descriptor.FromContent(docker ? MediaTypes.DockerLayerGzip : MediaTypes.OciLayerGzip, l)).ToList(),
        });
        return new TestImage(config, layers, manifest);
    }

    public async Task PushAsync(RegistryClient client, string registry, string repository, string? tag)
    {
        foreach (var (descriptor, bytes) in Blobs)
        {
            await client.PushBlobAsync(registry, repository, descriptor, new MemoryStream(bytes));
        }

        await client.PutManifestAsync(registry, repository, Manifest, tag);
    }
}

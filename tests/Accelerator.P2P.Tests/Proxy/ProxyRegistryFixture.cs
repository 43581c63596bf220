using System.Text;
using Accelerator.Oci.Model;
using Accelerator.Oci.Registry;
using Accelerator.Testing.Registry;

namespace Accelerator.P2P.Tests.Proxy;

/// <summary>Two real registries for the proxy tests (open, and htpasswd-protected), each holding one small image.</summary>
public sealed class ProxyRegistryFixture : IAsyncLifetime
{
    public const string User = "reader";
    public const string Password = "proxy-pass";
    public const string Repository = "team/app";
    public const string Tag = "v1";

    public DockerRegistryProcess Open { get; private set; } = null!;

    public DockerRegistryProcess Protected { get; private set; } = null!;

    public ManifestDocument Manifest { get; private set; } = null!;

    public byte[] Layer { get; private set; } = [];

    public Descriptor LayerDescriptor => Manifest.Manifest!.Layers[0];

    public async Task InitializeAsync()
    {
        var open = DockerRegistryProcess.StartAsync();
        var basic = DockerRegistryProcess.StartAsync(new DockerRegistryOptions { HtpasswdUsers = new Dictionary<string, string> { [User] = Password } });
        Open = await open;
        Protected = await basic;
        Layer = new byte[300_000];
        new Random(5).NextBytes(Layer);
        byte[] config = Encoding.UTF8.GetBytes("{\"architecture\":\"amd64\",\"os\":\"linux\",\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}}");
        Manifest = ManifestDocument.From(new ImageManifest
        {
            MediaType = MediaTypes.OciManifest,
            Config = Descriptor.FromContent(MediaTypes.OciConfig, config),
            Layers = [Descriptor.FromContent(MediaTypes.OciLayerGzip, Layer)],
        });
        foreach (var (registry, options) in new[] { (Open, Options()), (Protected, Options(o => o.Hosts[Protected.Host] = new RegistryHostOptions { PlainHttp = true, Username = User, Password = Password })) })
        {
            using var client = new RegistryClient(options);
            await client.PushBlobAsync(registry.Host, Repository, Manifest.Manifest!.Config, new MemoryStream(config));
            await client.PushBlobAsync(registry.Host, Repository, LayerDescriptor, new MemoryStream(Layer));
            await client.PutManifestAsync(registry.Host, Repository, Manifest, Tag);
        }
    }

    public async Task DisposeAsync()
    {
        if (Open is not null)
        {
            await Open.DisposeAsync();
        }

        if (Protected is not null)
        {
            await Protected.DisposeAsync();
        }
    }

    /// <summary>Plain HTTP, fast retries, no docker config of the machine.</summary>
    public static RegistryOptions Options(Action<RegistryOptions>? configure = null) => TestRegistryOptions.Create(configure);
}

[CollectionDefinition(Name)]
public sealed class ProxyRegistryCollection : ICollectionFixture<ProxyRegistryFixture>
{
    public const string Name = "ProxyRegistry";
}

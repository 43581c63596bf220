using System.Text.Json.Nodes;
using Accelerator.Block.Conversion;
using Accelerator.Lazy.Conversion;
using Accelerator.Oci.Model;
using Accelerator.Oci.Registry;
using Accelerator.Snapshots;
using Accelerator.Snapshotter.Remote;
using Accelerator.Testing.Images;
using Accelerator.Testing.Registry;
using Accelerator.Testing.Trees;
using Microsoft.Extensions.DependencyInjection;

namespace Accelerator.Snapshotter.Tests.Remote;

/// <summary>
/// One real docker-registry holding the real three-layer Debian corpus image (deletions, opaque directory) as
/// <c>corpus/layered:layered</c> with its lazy (<c>-accel</c>) and block (<c>-accel-block</c>) variants, the same image
/// unconverted as <c>plain/layered:layered</c>, umoci's unpack of it, and umoci's unpack of its lowest two layers.
/// </summary>
public sealed class RemoteSnapshotsFixture : IAsyncLifetime
{
    public string WorkDirectory { get; } = Directory.CreateTempSubdirectory("accel-remote-").FullName;

    public DockerRegistryProcess Registry { get; private set; } = null!;

    public RegistryClient Client { get; } = new(TestRegistryOptions.Create());

    public DebianImage Image { get; private set; } = null!;

    public ImageReference Converted { get; private set; } = null!;

    public ImageReference Unconverted { get; private set; } = null!;

    /// <summary>umoci's unpack of the whole image.</summary>
    public TreeSnapshot Expected { get; private set; } = null!;

    /// <summary>umoci's unpack of the image's lowest two layers.</summary>
    public TreeSnapshot ExpectedTwoLayers { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Registry = await DockerRegistryProcess.StartAsync();
        Image = await DebianImageCorpus.GetAsync(DebianImageCorpus.Layered);
        await Image.PushAsync(Registry.Host, "corpus/layered");
        await Image.PushAsync(Registry.Host, "plain/layered");
        Converted = ImageReference.Parse($"{Registry.Host}/corpus/layered:{Image.Tag}");
        Unconverted = ImageReference.Parse($"{Registry.Host}/plain/layered:{Image.Tag}");
        var store = Client.GetStore(Registry.Host);
        await LazyConverter.ConvertAsync(store, Converted, store, LazyConverter.DefaultTarget(Converted));
        await BlockConverter.ConvertAsync(store, Converted, store, BlockConverter.DefaultTarget(Converted), new BlockConvertOptions { TempDirectory = WorkDirectory });

        string whole = await Image.UnpackWithUmociAsync(Path.Combine(WorkDirectory, "umoci"));
        Expected = TreeSnapshot.Capture(whole);
        string prefix = await UnpackPrefixWithUmociAsync(2);
        ExpectedTwoLayers = TreeSnapshot.Capture(prefix);
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

    public string NewDirectory(string name) => Directory.CreateDirectory(Path.Combine(WorkDirectory, name + "-" + Guid.NewGuid().ToString("N")[..8])).FullName;

    /// <summary>The services of a node daemon's remote snapshots under <paramref name="root"/> with the given strategies.</summary>
    public ServiceProvider CreateServices(string root, Action<ImageAcceleratorBuilder> strategies)
    {
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddRemoteSnapshots(
            o => o.Directory = Path.Combine(root, "remote"),
            accelerator =>
            {
                accelerator.AddRegistry(Registry.Host, r => r.PlainHttp = true)
                    .ConfigureRegistries(r => r.DockerConfigPath = TestRegistryOptions.NoDockerConfig);
                strategies(accelerator);
            });
        return services.BuildServiceProvider();
    }

    /// <summary>The cache, lazy and block strategies with their state under <paramref name="root"/>, as the daemon adds them.</summary>
    public static void AllStrategies(ImageAcceleratorBuilder accelerator, string root)
        => accelerator
            .UseSnapshotCache(c => c.Root = Path.Combine(root, "cache"))
            .UseLazyMount(l =>
            {
                l.CacheDirectory = Path.Combine(root, "chunks");
                l.StateDirectory = Path.Combine(root, "lazy");
                l.Prefetch = false;
            })
            .UseBlockDevice(b =>
            {
                b.CacheDirectory = Path.Combine(root, "blocks");
                b.StateDirectory = Path.Combine(root, "block");
            });

    /// <summary>What containerd's CRI pull tells the snapshotter about <paramref name="image"/>: its manifest and each layer's Prepare.</summary>
    public async Task<PulledImage> DescribeAsync(ImageReference image)
    {
        var store = Client.GetStore(image.Registry);
        ManifestDocument document = await store.GetManifestAsync(image);
        var manifest = await RemoteImageManifest.ReadAsync(store, image, document.Digest, 1024, default);
        return new PulledImage(image, document.Digest, manifest.Manifest.Layers.Select(l => l.Digest).ToList(), manifest.ChainIds);
    }

    /// <summary>GETs of <paramref name="blob"/> the registry answered so far.</summary>
    public int BlobGets(Digest blob) => Registry.ReadLog().Split('\n').Count(l =>
        l.Contains("response completed", StringComparison.Ordinal)
        && l.Contains("http.request.method=GET", StringComparison.Ordinal)
        && l.Contains($"/blobs/{blob}", StringComparison.Ordinal));

    // A copy of the corpus layout with one more image: the lowest COUNT layers and a config listing their diff_ids.
    private async Task<string> UnpackPrefixWithUmociAsync(int count)
    {
        string layout = Path.Combine(WorkDirectory, "prefix-layout");
        CopyDirectory(Image.LayoutPath, layout);
        var index = JsonNode.Parse(File.ReadAllText(Path.Combine(layout, "index.json")))!;
        var descriptor = index["manifests"]!.AsArray().First(m => m!["annotations"]?["org.opencontainers.image.ref.name"]?.GetValue<string>() == Image.Tag)!;
        var manifest = JsonNode.Parse(ReadBlob(layout, descriptor["digest"]!.GetValue<string>()))!;
        var config = JsonNode.Parse(ReadBlob(layout, manifest["config"]!["digest"]!.GetValue<string>()))!;
        var diffIds = config["rootfs"]!["diff_ids"]!.AsArray();
        config["rootfs"]!["diff_ids"] = new JsonArray([.. diffIds.Take(count).Select(d => (JsonNode)JsonValue.Create(d!.GetValue<string>())!)]);
        config.AsObject().Remove("history");
        var (configDigest, configSize) = WriteBlob(layout, config.ToJsonString());
        manifest["config"]!["digest"] = configDigest;
        manifest["config"]!["size"] = configSize;
        var layers = manifest["layers"]!.AsArray();
        manifest["layers"] = new JsonArray([.. layers.Take(count).Select(l => l!.DeepClone())]);
        var (manifestDigest, manifestSize) = WriteBlob(layout, manifest.ToJsonString());
        index["manifests"]!.AsArray().Add(new JsonObject
        {
            ["mediaType"] = descriptor["mediaType"]!.GetValue<string>(),
            ["digest"] = manifestDigest,
            ["size"] = manifestSize,
            ["annotations"] = new JsonObject { ["org.opencontainers.image.ref.name"] = "prefix" },
        });
        File.WriteAllText(Path.Combine(layout, "index.json"), index.ToJsonString());
        return await OciLayoutTools.UnpackWithUmociAsync(layout, "prefix", Path.Combine(WorkDirectory, "umoci-prefix"));
    }

    private static byte[] ReadBlob(string layout, string digest) => File.ReadAllBytes(Path.Combine(layout, "blobs", "sha256", Digest.Parse(digest).Encoded));

    private static (string Digest, long Size) WriteBlob(string layout, string json)
    {
        byte[] bytes = System.Text.Encoding.UTF8.GetBytes(json);
        var digest = Digest.Compute(bytes);
        File.WriteAllBytes(Path.Combine(layout, "blobs", "sha256", digest.Encoded), bytes);
        return (digest.ToString(), bytes.Length);
    }

    private static void CopyDirectory(string from, string to)
    {
        foreach (string directory in Directory.EnumerateDirectories(from, "*", SearchOption.AllDirectories))
        {
            Directory.CreateDirectory(Path.Combine(to, Path.GetRelativePath(from, directory)));
        }

        Directory.CreateDirectory(to);
        foreach (string file in Directory.EnumerateFiles(from, "*", SearchOption.AllDirectories))
        {
            File.Copy(file, Path.Combine(to, Path.GetRelativePath(from, file)));
        }
    }
}

/// <summary>An image as containerd's CRI pull describes it to a snapshotter.</summary>
public sealed record PulledImage(ImageReference Image, Digest ManifestDigest, IReadOnlyList<Digest> LayerDigests, IReadOnlyList<string> ChainIds)
{
    /// <summary>The labels of layer <paramref name="depth"/>'s Prepare, as the CRI plugin and containerd's unpacker set them.</summary>
    public Dictionary<string, string> Labels(int depth) => new(StringComparer.Ordinal)
    {
        [RemoteImageLabels.SnapshotRef] = ChainIds[depth],
        [RemoteImageLabels.ImageRef] = Image.ToString(),
        [RemoteImageLabels.ManifestDigest] = ManifestDigest.ToString(),
        [RemoteImageLabels.LayerDigest] = LayerDigests[depth].ToString(),
        [RemoteImageLabels.ImageLayers] = string.Join(",", LayerDigests.Skip(depth)),
    };

    /// <summary>Layer <paramref name="depth"/>'s Prepare.</summary>
    public Layers.LayerRequest Request(int depth, Layers.LayerSource? parentSource = null)
        => new($"extract-{depth}-{Guid.NewGuid():N} {ChainIds[depth]}", depth == 0 ? null : ChainIds[depth - 1], parentSource, ChainIds[depth], Labels(depth));
}

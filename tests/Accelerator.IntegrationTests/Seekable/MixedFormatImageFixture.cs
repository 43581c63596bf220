using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Accelerator.Oci.Registry;
using Accelerator.Seekable.Index;
using Accelerator.Testing.Images;
using Accelerator.Testing.Registry;
using Accelerator.Testing.Trees;

namespace Accelerator.IntegrationTests.Seekable;

/// <summary>
/// One image whose three layers come in three formats, built from the producers' conversions of the same layered
/// Debian image (<see cref="SeekableCorpus"/>): the base layer as the original gzip (indexed by the seekable indexer,
/// which leaves the others alone), the packages layer as eStargz (the reference Go library) and the app layer (whiteouts,
/// opaque directory) as zstd:chunked (skopeo); the config's diff_ids are those of the layers taken. Pushed to a real
/// docker-registry, with umoci's unpack of the same layers (the app layer as the original gzip, the same tar) as the
/// reference tree.
/// </summary>
public sealed class MixedFormatImageFixture : IAsyncLifetime
{
    public string WorkDirectory { get; } = Directory.CreateTempSubdirectory("accel-seekable-mixed-").FullName;

    public DockerRegistryProcess Registry { get; private set; } = null!;

    public RegistryClient Client { get; } = new(TestRegistryOptions.Create());

    public ImageReference Image { get; private set; } = null!;

    public TreeSnapshot Expected { get; private set; } = null!;

    public SeekableIndexReport Report { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        const string Tag = "mixed";
        var gzip = await DebianImageCorpus.GetAsync(DebianImageCorpus.Layered);
        var estargz = await SeekableCorpus.GetEstargzAsync(DebianImageCorpus.Layered);
        var zstd = await SeekableCorpus.GetZstdChunkedAsync(DebianImageCorpus.Layered);
        // umoci 0.4.7 cannot read zstd layers; zstd:chunked keeps the layer's tar stream (skopeo leaves the config's
        // diff_ids as they were), so the reference tree is unpacked from the same layers with the original gzip on top.
        string layout = WriteLayout(Path.Combine(WorkDirectory, "layout"), Tag, [gzip, estargz, zstd]);
        string reference = WriteLayout(Path.Combine(WorkDirectory, "reference"), Tag, [gzip, estargz, gzip]);

        Registry = await DockerRegistryProcess.StartAsync();
        await OciLayoutTools.PushAsync(layout, Tag, Registry.Host, "seekable/mixed");
        Image = ImageReference.Parse($"{Registry.Host}/seekable/mixed:{Tag}");
        Report = await SeekableIndexer.IndexAsync(Client.GetStore(Image.Registry), Image);
        string rootfs = await OciLayoutTools.UnpackWithUmociAsync(reference, Tag, Path.Combine(WorkDirectory, "umoci"));
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

    /// <summary>A new directory under the work directory.</summary>
    public string NewDirectory(string name) => Directory.CreateDirectory(Path.Combine(WorkDirectory, name + "-" + Guid.NewGuid().ToString("N")[..8])).FullName;

    // An OCI layout whose layer i is layer i of sources[i], with the first source's config and the diff_ids of the layers taken.
    private static string WriteLayout(string layout, string tag, DebianImage[] sources)
    {
        Directory.CreateDirectory(Path.Combine(layout, "blobs", "sha256"));
        File.WriteAllText(Path.Combine(layout, "oci-layout"), """{"imageLayoutVersion":"1.0.0"}""");
        var layers = new JsonArray();
        var diffIds = new JsonArray();
        for (int i = 0; i < sources.Length; i++)
        {
            var (manifest, config) = ReadImage(sources[i]);
            JsonNode layer = manifest["layers"]![i]!.DeepClone();
            CopyBlob(sources[i].LayoutPath, layout, (string)layer["digest"]!);
            layers.Add(layer);
            diffIds.Add((string)config["rootfs"]!["diff_ids"]![i]!);
        }

        JsonNode mixedConfig = ReadImage(sources[0]).Config.DeepClone();
        mixedConfig["rootfs"]!["diff_ids"] = diffIds;
        var (configDigest, configSize) = WriteBlob(layout, mixedConfig.ToJsonString());
        var mixedManifest = new JsonObject
        {
            ["schemaVersion"] = 2,
            ["mediaType"] = "application/vnd.oci.image.manifest.v1+json",
            ["config"] = new JsonObject { ["mediaType"] = "application/vnd.oci.image.config.v1+json", ["digest"] = configDigest, ["size"] = configSize },
            ["layers"] = layers,
        };
        var (manifestDigest, manifestSize) = WriteBlob(layout, mixedManifest.ToJsonString());
        var index = new JsonObject
        {
            ["schemaVersion"] = 2,
            ["manifests"] = new JsonArray(new JsonObject
            {
                ["mediaType"] = "application/vnd.oci.image.manifest.v1+json",
                ["digest"] = manifestDigest,
                ["size"] = manifestSize,
                ["annotations"] = new JsonObject { ["org.opencontainers.image.ref.name"] = tag },
            }),
        };
        File.WriteAllText(Path.Combine(layout, "index.json"), index.ToJsonString());
        return layout;
    }

    private static (JsonNode Manifest, JsonNode Config) ReadImage(DebianImage image)
    {
        JsonNode index = JsonNode.Parse(File.ReadAllText(Path.Combine(image.LayoutPath, "index.json")))!;
        JsonNode entry = index["manifests"]!.AsArray().Single(m => (string?)m!["annotations"]?["org.opencontainers.image.ref.name"] == image.Tag)!;
        JsonNode manifest = JsonNode.Parse(File.ReadAllText(BlobPath(image.LayoutPath, (string)entry["digest"]!)))!;
        JsonNode config = JsonNode.Parse(File.ReadAllText(BlobPath(image.LayoutPath, (string)manifest["config"]!["digest"]!)))!;
        return (manifest, config);
    }

    private static string BlobPath(string layout, string digest) => Path.Combine(layout, "blobs", "sha256", digest["sha256:".Length..]);

    private static void CopyBlob(string fromLayout, string toLayout, string digest) => File.Copy(BlobPath(fromLayout, digest), BlobPath(toLayout, digest), overwrite: true);

    private static (string Digest, long Size) WriteBlob(string layout, string json)
    {
        byte[] bytes = System.Text.Encoding.UTF8.GetBytes(json);
        string digest = "sha256:" + Convert.ToHexStringLower(SHA256.HashData(bytes));
        File.WriteAllBytes(BlobPath(layout, digest), bytes);
        return (digest, bytes.Length);
    }
}

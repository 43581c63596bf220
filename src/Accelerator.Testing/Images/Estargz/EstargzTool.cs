using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Accelerator.Testing.Images.Estargz;

/// <summary>One layer converted to eStargz by the reference implementation.</summary>
/// <param name="Digest">The eStargz blob's digest.</param>
/// <param name="Size">The eStargz blob's size.</param>
/// <param name="TocDigest">The sha256 of its uncompressed TOC JSON (the <c>containerd.io/snapshot/stargz/toc.digest</c> annotation).</param>
/// <param name="DiffId">The sha256 of its uncompressed tar stream.</param>
public sealed record EstargzLayer(Digest Digest, long Size, Digest TocDigest, Digest DiffId);

/// <summary>How <see cref="EstargzTool"/> converts.</summary>
public sealed class EstargzConversionOptions
{
    /// <summary>The chunk size in bytes; 0 keeps the library's default (4 MiB). Small chunks give files of many chunks.</summary>
    public int ChunkSize { get; init; }

    /// <summary>Paths placed before the prefetch landmark (a layer lacking them gets the no-prefetch landmark).</summary>
    public IReadOnlyList<string> PrioritizedFiles { get; init; } = [];
}

/// <summary>
/// Produces eStargz with the reference implementation (github.com/containerd/stargz-snapshotter/estargz, Debian's
/// golang-github-containerd-stargz-snapshotter-dev): a small Go program (estargz-producer.go, checked in beside this
/// file) built offline with Go 1.19 on first use and cached by its source hash under the corpus cache; and the
/// rewrite of an OCI layout image into an eStargz image.
/// </summary>
public static class EstargzTool
{
    /// <summary>The layer annotation of the TOC digest.</summary>
    public const string TocDigestAnnotation = "containerd.io/snapshot/stargz/toc.digest";

    /// <summary>The layer annotation of the uncompressed (diff ID) digest stargz-snapshotter writes.</summary>
    public const string UncompressedAnnotation = "containerd.io/uncompressed";

    private const string SourceResource = "Accelerator.Testing.Images.Estargz.estargz-producer.go";
    private const string GzipLayerMediaType = "application/vnd.oci.image.layer.v1.tar+gzip";
    private static readonly SemaphoreSlim BuildLock = new(1, 1);
    private static string? _producer;

    /// <summary>Builds the producer (once per source version) and returns the path of its executable.</summary>
    public static async Task<string> GetProducerAsync(CancellationToken cancellationToken = default)
    {
        await BuildLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_producer is not null)
            {
                return _producer;
            }

            byte[] source = ReadSource();
            string hash = ProducerSourceHash;
            string directory = Path.Combine(DebianImageCorpus.CacheRoot, $"estargz-producer-{hash}");
            string executable = Path.Combine(directory, "estargz-producer");
            if (!File.Exists(executable))
            {
                string work = Path.Combine(DebianImageCorpus.CacheRoot, $"estargz-producer-{hash}.{Environment.ProcessId}.{Guid.NewGuid():N}");
                Directory.CreateDirectory(work);
                try
                {
                    await File.WriteAllBytesAsync(Path.Combine(work, "main.go"), source, cancellationToken).ConfigureAwait(false);
                    await ExternalTool.RunAsync("env",
                    [
                        "GOPATH=/usr/share/gocode", "GO111MODULE=off", "GOFLAGS=", "GOPROXY=off",
                        $"GOCACHE={Path.Combine(work, "gocache")}", $"HOME={work}",
                        GoCommand(), "build", "-o", "estargz-producer", "main.go",
                    ], work, cancellationToken).ConfigureAwait(false);
                    Directory.Delete(Path.Combine(work, "gocache"), recursive: true);
                    try
                    {
                        Directory.Move(work, directory);
                    }
                    catch (IOException) when (File.Exists(executable))
                    {
                        // Another test process built the same source first.
                    }
                }
                finally
                {
                    if (Directory.Exists(work))
                    {
                        Directory.Delete(work, recursive: true);
                    }
                }
            }

            return _producer = executable;
        }
        finally
        {
            BuildLock.Release();
        }
    }

    /// <summary>Converts one layer blob (tar, tar+gzip or tar+zstd) at <paramref name="input"/> into eStargz at <paramref name="output"/>.</summary>
    public static async Task<EstargzLayer> ConvertLayerAsync(string input, string output, EstargzConversionOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new EstargzConversionOptions();
        string producer = await GetProducerAsync(cancellationToken).ConfigureAwait(false);
        List<string> arguments = [];
        if (options.ChunkSize > 0)
        {
            arguments.AddRange(["-chunk-size", options.ChunkSize.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        }

        if (options.PrioritizedFiles.Count > 0)
        {
            arguments.AddRange(["-prioritize", string.Join(',', options.PrioritizedFiles)]);
        }

        arguments.AddRange([input, output]);
        string json = await ExternalTool.RunAsync(producer, arguments, cancellationToken: cancellationToken).ConfigureAwait(false);
        var result = JsonNode.Parse(json) ?? throw new InvalidOperationException($"estargz-producer printed '{json}'.");
        return new EstargzLayer(
            Digest.Parse(result["digest"]!.GetValue<string>()),
            result["size"]!.GetValue<long>(),
            Digest.Parse(result["tocDigest"]!.GetValue<string>()),
            Digest.Parse(result["diffId"]!.GetValue<string>()));
    }

    /// <summary>
    /// Writes into the new OCI layout <paramref name="destinationLayout"/> the image <paramref name="tag"/> of
    /// <paramref name="sourceLayout"/> with every layer converted to eStargz: layers <c>tar+gzip</c> with the TOC digest
    /// and uncompressed annotations, the config's <c>rootfs.diff_ids</c> updated, the same tag.
    /// </summary>
    /// <returns>The converted layers, bottom first.</returns>
    public static async Task<IReadOnlyList<EstargzLayer>> ConvertImageAsync(string sourceLayout, string tag, string destinationLayout,
        EstargzConversionOptions? options = null, CancellationToken cancellationToken = default)
    {
        var index = JsonNode.Parse(await File.ReadAllTextAsync(Path.Combine(sourceLayout, "index.json"), cancellationToken).ConfigureAwait(false))!;
        var manifestDescriptor = index["manifests"]!.AsArray()
            .Single(m => m!["annotations"]?["org.opencontainers.image.ref.name"]?.GetValue<string>() == tag)!;
        var manifest = JsonNode.Parse(await File.ReadAllBytesAsync(BlobPath(sourceLayout, manifestDescriptor["digest"]!.GetValue<string>()), cancellationToken).ConfigureAwait(false))!;
        var config = JsonNode.Parse(await File.ReadAllBytesAsync(BlobPath(sourceLayout, manifest["config"]!["digest"]!.GetValue<string>()), cancellationToken).ConfigureAwait(false))!;

        Directory.CreateDirectory(Path.Combine(destinationLayout, "blobs", "sha256"));
        await File.WriteAllTextAsync(Path.Combine(destinationLayout, "oci-layout"), "{\"imageLayoutVersion\":\"1.0.0\"}", cancellationToken).ConfigureAwait(false);
        var converted = new List<EstargzLayer>();
        var layers = manifest["layers"]!.AsArray();
        var diffIds = new JsonArray();
        foreach (var layer in layers)
        {
            string temporary = Path.Combine(destinationLayout, "blobs", "sha256", $".converting-{Guid.NewGuid():N}");
            var result = await ConvertLayerAsync(BlobPath(sourceLayout, layer!["digest"]!.GetValue<string>()), temporary, options, cancellationToken).ConfigureAwait(false);
            File.Move(temporary, BlobPath(destinationLayout, result.Digest.ToString()), overwrite: true);
            converted.Add(result);
            layer["mediaType"] = GzipLayerMediaType;
            layer["digest"] = result.Digest.ToString();
            layer["size"] = result.Size;
            layer["annotations"] = new JsonObject
            {
                [TocDigestAnnotation] = result.TocDigest.ToString(),
                [UncompressedAnnotation] = result.DiffId.ToString(),
            };
            diffIds.Add(result.DiffId.ToString());
        }

        config["rootfs"]!["diff_ids"] = diffIds;
        var configDescriptor = await WriteBlobAsync(destinationLayout, config, cancellationToken).ConfigureAwait(false);
        manifest["config"]!["digest"] = configDescriptor.Digest.ToString();
        manifest["config"]!["size"] = configDescriptor.Size;
        var newManifest = await WriteBlobAsync(destinationLayout, manifest, cancellationToken).ConfigureAwait(false);
        var newIndex = new JsonObject
        {
            ["schemaVersion"] = 2,
            ["manifests"] = new JsonArray(new JsonObject
            {
                ["mediaType"] = manifestDescriptor["mediaType"]?.GetValue<string>() ?? "application/vnd.oci.image.manifest.v1+json",
                ["digest"] = newManifest.Digest.ToString(),
                ["size"] = newManifest.Size,
                ["annotations"] = new JsonObject { ["org.opencontainers.image.ref.name"] = tag },
            }),
        };
        await File.WriteAllTextAsync(Path.Combine(destinationLayout, "index.json"), newIndex.ToJsonString(), cancellationToken).ConfigureAwait(false);
        return converted;
    }

    private static async Task<(Digest Digest, long Size)> WriteBlobAsync(string layout, JsonNode document, CancellationToken cancellationToken)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(document.ToJsonString(new JsonSerializerOptions { WriteIndented = false }));
        var digest = Digest.Compute(bytes);
        await File.WriteAllBytesAsync(BlobPath(layout, digest.ToString()), bytes, cancellationToken).ConfigureAwait(false);
        return (digest, bytes.Length);
    }

    private static string BlobPath(string layout, string digest)
    {
        var parsed = Digest.Parse(digest);
        return Path.Combine(layout, "blobs", parsed.Algorithm, parsed.Encoded);
    }

    /// <summary>The first 16 hex digits of the sha256 of the producer's source: its cache key.</summary>
    internal static string ProducerSourceHash => Convert.ToHexStringLower(SHA256.HashData(ReadSource()))[..16];

    private static byte[] ReadSource()
    {
        using var stream = typeof(EstargzTool).Assembly.GetManifestResourceStream(SourceResource)
            ?? throw new InvalidOperationException($"The resource {SourceResource} is missing from Accelerator.Testing.");
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    }

    // Debian's golang-1.19-go installs beside other Go versions; golang-go puts the default one on PATH.
    private static string GoCommand() => File.Exists("/usr/lib/go-1.19/bin/go") ? "/usr/lib/go-1.19/bin/go" : "go";
}

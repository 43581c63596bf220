using System.Text.Json;
using Accelerator.Oci.Model;
using BenchmarkDotNet.Attributes;

namespace Accelerator.Benchmarks;

/// <summary>
/// Parsing a 12-layer OCI manifest with <see cref="ManifestDocument.Parse"/> (size bound, digest check, media type,
/// typed model) against a bare <see cref="JsonDocument"/> parse of the same bytes (the baseline), and the typed
/// deserialisation alone (<see cref="OciJson.Deserialize{T}"/>) to show where the time goes.
/// </summary>
[MemoryDiagnoser]
[MinColumn]
public class ManifestParsingBenchmarks
{
    private byte[] _manifest = [];
    private Digest _digest;

    [GlobalSetup]
    public void Setup()
    {
        var random = new Random(5);
        Descriptor Blob(string mediaType, long size)
        {
            byte[] bytes = new byte[32];
            random.NextBytes(bytes);
            return new Descriptor(mediaType, Digest.Compute(bytes), size);
        }

        var manifest = new ImageManifest
        {
            Config = Blob(MediaTypes.OciConfig, 1_469),
            Layers = [.. Enumerable.Range(0, 12).Select(i => Blob(MediaTypes.OciLayerGzip, 1_000_000 + (i * 7_919)))],
            Annotations = new Dictionary<string, string> { ["org.opencontainers.image.created"] = "2024-01-01T00:00:00Z" },
        };
        _manifest = ManifestDocument.From(manifest).Bytes.ToArray();
        _digest = Digest.Compute(_manifest);
    }

    [Benchmark(Baseline = true)]
    public JsonDocument JsonDocumentParse() => JsonDocument.Parse(_manifest);

    [Benchmark]
    public ImageManifest OciJsonDeserialize() => OciJson.Deserialize<ImageManifest>(_manifest, "manifest");

    [Benchmark]
    public ManifestDocument ManifestDocumentParse() => ManifestDocument.Parse(_manifest, MediaTypes.OciManifest, _digest);
}

using System.Globalization;
using System.Text;
using Accelerator.Oci.Model;
using Accelerator.Seekable.Gzip;
using Accelerator.Seekable.Index;
using Accelerator.Testing;
using Accelerator.Testing.Fuzzing;

namespace Accelerator.Seekable.Tests.Index;

public sealed class SeekableIndexArtifactTests
{
    private static readonly Descriptor Subject = Descriptor.FromContent(MediaTypes.OciManifest, "the image manifest"u8);
    private static readonly Digest LayerA = Digest.Compute("layer a"u8);
    private static readonly Digest LayerB = Digest.Compute("layer b"u8);
    private static readonly DateTimeOffset Created = DateTimeOffset.Parse("2026-12-06T10:00:00.5Z", CultureInfo.InvariantCulture);

    [Fact]
    public void EmptyConfig_IsTheOciEmptyDescriptor()
    {
        Assert.Equal(MediaTypes.OciEmpty, SeekableIndexArtifact.EmptyConfig.MediaType);
        Assert.Equal("sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a", SeekableIndexArtifact.EmptyConfig.Digest.ToString());
        Assert.Equal(2, SeekableIndexArtifact.EmptyConfig.Size);
    }

    [Fact]
    public void Build_ThenParse_SameLayersSubjectAndAnnotations()
    {
        var manifest = BuildSample(prefetch: true);

        var artifact = SeekableIndexArtifact.Parse(manifest, new InMemoryBlobSource(), "repo");

        var document = manifest.Manifest!;
        Assert.Equal(SeekableIndexArtifact.ArtifactType, document.ArtifactType);
        Assert.Equal(MediaTypes.OciManifest, manifest.MediaType);
        Assert.Equal(Subject.Digest, artifact.Subject.Digest);
        Assert.Equal(Subject.Size, artifact.Subject.Size);
        Assert.Equal(4 << 20, artifact.SpanSize);
        Assert.Equal(Created, artifact.Created);
        Assert.True(artifact.Indexes(LayerA));
        Assert.True(artifact.Indexes(LayerB));
        Assert.False(artifact.Indexes(Subject.Digest));
        Assert.NotNull(artifact.PrefetchList);
        Assert.All(document.Layers.Where(l => l.MediaType == GzipLayerIndex.MediaType),
            l => Assert.True(Digest.TryParse(l.Annotations![SeekableIndexArtifact.LayerAnnotation], out _)));
    }

    [Fact]
    public void Parse_AnotherArtifactType_InvalidDataNamingIt()
    {
        var other = ManifestDocument.From(BuildSample(prefetch: false).Manifest! with { ArtifactType = "application/vnd.example.sbom" });

        var error = Assert.Throws<InvalidDataException>(() => SeekableIndexArtifact.Parse(other, new InMemoryBlobSource(), "repo"));
        Assert.Contains("application/vnd.example.sbom", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_LayerBlobWithoutItsLayer_InvalidData()
    {
        var sample = BuildSample(prefetch: false).Manifest!;
        var unnamed = ManifestDocument.From(sample with { Layers = [sample.Layers[0] with { Annotations = null }] });

        Assert.Throws<InvalidDataException>(() => SeekableIndexArtifact.Parse(unnamed, new InMemoryBlobSource(), "repo"));
    }

    [Fact]
    public void Parse_SameLayerTwice_InvalidData()
    {
        var sample = BuildSample(prefetch: false).Manifest!;
        var twice = ManifestDocument.From(sample with { Layers = [sample.Layers[0], sample.Layers[0] with { Digest = Digest.Compute("x"u8) }] });

        Assert.Throws<InvalidDataException>(() => SeekableIndexArtifact.Parse(twice, new InMemoryBlobSource(), "repo"));
    }

    [Fact]
    public void Parse_NoSubject_InvalidData()
    {
        var orphan = ManifestDocument.From(BuildSample(prefetch: false).Manifest! with { Subject = null });

        Assert.Throws<InvalidDataException>(() => SeekableIndexArtifact.Parse(orphan, new InMemoryBlobSource(), "repo"));
    }

    [Fact]
    public void Parse_FuzzedManifest_CleanErrorOrResult()
    {
        byte[] seed = BuildSample(prefetch: true).Bytes.ToArray();
        var random = new Random(20261206);
        for (int i = 0; i < 1500; i++)
        {
            byte[] input = FuzzInput.Mutate(seed, random);
            ManifestDocument document;
            try
            {
                document = ManifestDocument.Parse(input);
            }
            catch (Exception ex) when (ex is FormatException or NotSupportedException or InvalidOperationException)
            {
                continue;
            }

            try
            {
                var artifact = SeekableIndexArtifact.Parse(document, new InMemoryBlobSource(), "repo");
                Assert.Equal(SeekableIndexArtifact.ArtifactType, document.Manifest!.ArtifactType);
                Assert.True(artifact.LayerIndexes.Count <= SeekableIndexArtifact.MaxLayers);
                Assert.All(artifact.LayerIndexes.Values, b => Assert.True(b.Size <= SeekableIndexArtifact.MaxLayerIndexBytes));
            }
            catch (InvalidDataException)
            {
            }
        }
    }

    [Fact]
    public void PrefetchList_WriteThenParse_SamePathsWithLeadingSlash()
    {
        byte[] written = SeekableIndexArtifact.WritePrefetchList(["/usr/bin/python3", "etc/nginx/nginx.conf"]);

        Assert.Equal(["/usr/bin/python3", "/etc/nginx/nginx.conf"], SeekableIndexArtifact.ParsePrefetchList(written));
    }

    [Fact]
    public void ParsePrefetchList_Fuzzed_CleanErrorOrResult()
    {
        byte[] seed = SeekableIndexArtifact.WritePrefetchList(["/usr/bin/python3", "/lib/x86_64-linux-gnu/libc.so.6"]);
        var random = new Random(16);
        for (int i = 0; i < 2000; i++)
        {
            byte[] input = i % 4 == 0 ? FuzzInput.RandomBytes(random, 64) : FuzzInput.Mutate(seed, random);
            try
            {
                var paths = SeekableIndexArtifact.ParsePrefetchList(input);
                Assert.All(paths, p => Assert.True(p.StartsWith('/') && p.Length > 1 && !p.Contains('\0')));
            }
            catch (InvalidDataException)
            {
            }
        }
    }

    [Fact]
    public void ParsePrefetchList_TooManyPaths_InvalidData()
    {
        byte[] json = Encoding.UTF8.GetBytes("[" + string.Join(",", Enumerable.Repeat("\"/a\"", SeekableIndexArtifact.MaxPrefetchPaths + 1)) + "]");

        Assert.Throws<InvalidDataException>(() => SeekableIndexArtifact.ParsePrefetchList(json));
    }

    [Fact]
    public async Task ReadLayerIndexAsync_BlobChangedInTheStore_DigestMismatch()
    {
        var (blobs, layer, manifest) = await PublishedAsync();
        var blob = SeekableIndexArtifact.Parse(manifest, blobs, "repo").LayerIndexes[layer.Digest];
        byte[] tampered = (await blobs.ReadAllBytesAsync(BlobAddress.For("repo", blob), 1 << 20)).ToArray();
        tampered[^1] ^= 1;
        blobs.AddUnverified(blob.Digest, tampered);

        await Assert.ThrowsAsync<DigestMismatchException>(() => SeekableIndexArtifact.Parse(manifest, blobs, "repo").ReadLayerIndexAsync(layer));
    }

    [Fact]
    public async Task ReadLayerIndexAsync_IndexOfAnotherLayerUnderThisLayersName_InvalidData()
    {
        var (blobs, layer, manifest) = await PublishedAsync();
        var other = layer with { Digest = Digest.Compute("another layer"u8) };
        var relabelled = SeekableIndexArtifact.Build(
            Subject, [(other.Digest, SeekableIndexArtifact.Parse(manifest, blobs, "repo").LayerIndexes[layer.Digest])], null, 4 << 20, Created);

        var artifact = SeekableIndexArtifact.Parse(relabelled, blobs, "repo");

        await Assert.ThrowsAsync<InvalidDataException>(() => artifact.ReadLayerIndexAsync(other));
        Assert.Null(await artifact.ReadLayerIndexAsync(layer));
    }

    private static async Task<(InMemoryBlobSource Blobs, Descriptor Layer, ManifestDocument Manifest)> PublishedAsync()
    {
        // An empty tar archive (its two zero blocks): the smallest layer the builder indexes.
        byte[] tar = new byte[1024];
        var layer = Descriptor.FromContent("application/vnd.oci.image.layer.v1.tar", tar);
        var index = await GzipIndexBuilder.BuildAsync(new MemoryStream(tar), layer, new GzipIndexOptions { SpanSize = 64 << 10 });
        var blobs = new InMemoryBlobSource();
        var blob = blobs.Add(index.ToBytes(), GzipLayerIndex.MediaType);
        return (blobs, layer, SeekableIndexArtifact.Build(Subject, [(layer.Digest, blob)], null, 64 << 10, Created));
    }

    private static ManifestDocument BuildSample(bool prefetch)
    {
        var indexA = Descriptor.FromContent(GzipLayerIndex.MediaType, "index a"u8);
        var indexB = Descriptor.FromContent(GzipLayerIndex.MediaType, "index b"u8);
        var list = prefetch ? Descriptor.FromContent(SeekableIndexArtifact.PrefetchListMediaType, SeekableIndexArtifact.WritePrefetchList(["/bin/sh"])) : null;
        return SeekableIndexArtifact.Build(Subject, [(LayerA, indexA), (LayerB, indexB)], list, 4 << 20, Created);
    }
}

using System.Text;
using Accelerator.Oci.Model;
using static Accelerator.Oci.Tests.Model.SampleDocuments;

namespace Accelerator.Oci.Tests.Model;

public sealed class ManifestDocumentTests
{
    [Fact]
    public void Parse_OciManifest_ReadsConfigLayersAndAnnotations()
    {
        byte[] bytes = Bytes(OciManifest);
        var document = ManifestDocument.Parse(bytes);

        Assert.Equal(MediaTypes.OciManifest, document.MediaType);
        Assert.False(document.IsIndex);
        Assert.Null(document.Index);
        var manifest = Assert.IsType<ImageManifest>(document.Manifest);
        Assert.Equal(2, manifest.SchemaVersion);
        Assert.Equal(Digest.Parse(D1), manifest.Config.Digest);
        Assert.Equal(1469, manifest.Config.Size);
        Assert.Equal([MediaTypes.OciLayerGzip, MediaTypes.OciLayerZstd], manifest.Layers.Select(l => l.MediaType));
        Assert.Equal(3623807, manifest.Layers[0].Size);
        Assert.Equal("x", manifest.Layers[1].Annotations!["org.opencontainers.image.title"]);
        Assert.Equal("2024-01-01T00:00:00Z", manifest.Annotations!["org.opencontainers.image.created"]);
        Assert.Equal(Digest.Compute(bytes), document.Digest);
        Assert.Equal(new Descriptor(MediaTypes.OciManifest, Digest.Compute(bytes), bytes.Length), document.Descriptor);
        Assert.Equal(bytes, document.Bytes.ToArray());
    }

    [Fact]
    public void Parse_DockerManifest_KeepsDockerMediaTypes()
    {
        var document = ManifestDocument.Parse(Bytes(DockerManifest));

        Assert.Equal(MediaTypes.DockerManifest, document.MediaType);
        Assert.Equal(MediaTypes.DockerConfig, document.Manifest!.Config.MediaType);
        Assert.Equal(MediaTypes.DockerLayerGzip, Assert.Single(document.Manifest.Layers).MediaType);
    }

    [Fact]
    public void Parse_OciIndex_ReadsPlatforms()
    {
        var document = ManifestDocument.Parse(Bytes(OciIndex));

        Assert.Equal(MediaTypes.OciIndex, document.MediaType);
        Assert.True(document.IsIndex);
        Assert.Null(document.Manifest);
        Assert.Equal(3, document.Index!.Manifests.Count);
        Assert.Equal(new Platform("linux", "arm64", "v8"), document.Index.Manifests[1].Platform);
    }

    [Fact]
    public void Parse_DockerManifestList_ReadsWindowsPlatformFields()
    {
        var document = ManifestDocument.Parse(Bytes(DockerManifestList));

        Assert.Equal(MediaTypes.DockerManifestList, document.MediaType);
        var windows = document.Index!.Manifests[1].Platform!;
        Assert.Equal("windows", windows.OS);
        Assert.Equal("10.0.17763.1040", windows.OSVersion);
        Assert.Equal(["win32k"], windows.OSFeatures!);
    }

    [Theory]
    [InlineData(OciManifestWithoutMediaType, MediaTypes.OciManifest)]
    [InlineData(IndexWithoutMediaType, MediaTypes.OciIndex)]
    public void Parse_NoMediaTypeAnywhere_InfersFromShape(string json, string expected)
        => Assert.Equal(expected, ManifestDocument.Parse(Bytes(json)).MediaType);

    [Theory]
    [InlineData(OciManifestWithoutMediaType, MediaTypes.DockerManifest)]
    [InlineData(IndexWithoutMediaType, MediaTypes.DockerManifestList)]
    public void Parse_MediaTypeOnlyInHeader_UsesHeader(string json, string header)
        => Assert.Equal(header, ManifestDocument.Parse(Bytes(json), header).MediaType);

    [Theory]
    [InlineData(MediaTypes.OciManifest)]
    [InlineData(MediaTypes.OciManifest + "; charset=utf-8")]
    [InlineData("application/json")]
    [InlineData("text/plain; charset=utf-8")]
    [InlineData("application/octet-stream")]
    [InlineData("")]
    public void Parse_HeaderAgreeingOrGeneric_UsesBodyType(string header)
        => Assert.Equal(MediaTypes.OciManifest, ManifestDocument.Parse(Bytes(OciManifest), header).MediaType);

    [Theory]
    [InlineData(OciManifest, MediaTypes.DockerManifest)]
    [InlineData(OciManifest, MediaTypes.OciIndex)]
    [InlineData(DockerManifest, MediaTypes.OciManifest)]
    [InlineData(OciIndex, MediaTypes.DockerManifestList)]
    public void Parse_HeaderDisagreesWithBody_ThrowsFormatException(string json, string header)
    {
        var ex = Assert.Throws<FormatException>(() => ManifestDocument.Parse(Bytes(json), header));
        Assert.Contains(header, ex.Message);
    }

    [Fact]
    public void Parse_Schema1_ThrowsNotSupported()
    {
        Assert.Throws<NotSupportedException>(() => ManifestDocument.Parse(Bytes(Schema1)));
        Assert.Throws<NotSupportedException>(() => ManifestDocument.Parse(Bytes(Schema1), "application/vnd.docker.distribution.manifest.v1+prettyjws"));
    }

    [Fact]
    public void Parse_UnknownMediaType_ThrowsNotSupported()
        => Assert.Throws<NotSupportedException>(() => ManifestDocument.Parse(Bytes("""{"schemaVersion":2,"mediaType":"application/vnd.example+json"}""")));

    [Fact]
    public void Parse_NeitherLayersNorManifests_ThrowsNotSupported()
        => Assert.Throws<NotSupportedException>(() => ManifestDocument.Parse(Bytes("""{"schemaVersion":2}""")));

    [Fact]
    public void Parse_OverMaxSize_ThrowsContentTooLarge()
    {
        byte[] bytes = PadTo(Bytes(OciManifest), ManifestDocument.MaxSize + 1);
        Assert.Throws<ContentTooLargeException>(() => ManifestDocument.Parse(bytes));
    }

    [Fact]
    public void Parse_ExactlyMaxSize_Accepted()
    {
        byte[] bytes = PadTo(Bytes(OciManifest), ManifestDocument.MaxSize);
        Assert.Equal(ManifestDocument.MaxSize, ManifestDocument.Parse(bytes).Bytes.Length);
    }

    [Fact]
    public void Parse_ExpectedDigestMatches_Accepted()
    {
        byte[] bytes = Bytes(OciManifest);
        Assert.Equal(Digest.Compute(bytes), ManifestDocument.Parse(bytes, null, Digest.Compute(bytes)).Digest);
    }

    [Fact]
    public void Parse_ExpectedSha512Digest_VerifiedWithSha512()
    {
        byte[] bytes = Bytes(OciManifest);
        var sha512 = Digest.Compute(Digest.Sha512, bytes);
        Assert.Equal(sha512, ManifestDocument.Parse(bytes, null, sha512).Digest);
    }

    [Fact]
    public void Parse_ExpectedDigestDiffers_ThrowsDigestMismatch()
    {
        byte[] bytes = Bytes(OciManifest);
        var other = Digest.Compute(Bytes(DockerManifest));
        var ex = Assert.Throws<DigestMismatchException>(() => ManifestDocument.Parse(bytes, null, other));
        Assert.Equal(other, ex.Expected);
        Assert.Equal(Digest.Compute(bytes).ToString(), ex.Actual);
    }

    [Theory]
    [InlineData("")]
    [InlineData("not json")]
    [InlineData("[]")]
    [InlineData("\"manifest\"")]
    [InlineData("null")]
    [InlineData("{")]
    [InlineData("""{"mediaType":"application/vnd.oci.image.manifest.v1+json"}""")]
    [InlineData("""{"mediaType":"application/vnd.oci.image.manifest.v1+json","config":null,"layers":[]}""")]
    [InlineData("""{"mediaType":"application/vnd.oci.image.index.v1+json"}""")]
    [InlineData("""{"mediaType":"application/vnd.oci.image.index.v1+json","manifests":null}""")]
    [InlineData("""{"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[null]}""")]
    [InlineData("""{"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"digest":"sha256:1111111111111111111111111111111111111111111111111111111111111111","size":1},"layers":[null]}""")]
    [InlineData("""{"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"digest":"sha256:../x","size":1},"layers":[]}""")]
    [InlineData("""{"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"digest":"sha256:1111111111111111111111111111111111111111111111111111111111111111","size":-5},"layers":[]}""")]
    public void Parse_Malformed_ThrowsFormatException(string json)
        => Assert.Throws<FormatException>(() => ManifestDocument.Parse(Bytes(json)));

    [Fact]
    public void Parse_InvalidUtf8InMediaType_ThrowsFormatException()
    {
        byte[] bytes = Bytes(OciManifest);
        int at = Encoding.UTF8.GetString(bytes).IndexOf("application/vnd.oci.image.manifest", StringComparison.Ordinal);
        bytes[at] = 0xE7;
        Assert.Throws<FormatException>(() => ManifestDocument.Parse(bytes));
    }

    [Fact]
    public void Parse_DeeplyNested_ThrowsFormatException()
    {
        string json = """{"mediaType":"application/vnd.oci.image.manifest.v1+json","x":""" + new string('[', 1000) + new string(']', 1000) + "}";
        Assert.Throws<FormatException>(() => ManifestDocument.Parse(Bytes(json)));
    }

    [Fact]
    public void From_Manifest_ParsesBackToTheSameDocument()
    {
        var original = ManifestDocument.Parse(Bytes(OciManifest)).Manifest!;

        var serialized = ManifestDocument.From(original);
        var parsed = ManifestDocument.Parse(serialized.Bytes, serialized.MediaType, serialized.Digest);

        Assert.Equal(serialized.Digest, parsed.Digest);
        Assert.Equal(MediaTypes.OciManifest, parsed.MediaType);
        AssertSameDescriptors([original.Config, .. original.Layers], [parsed.Manifest!.Config, .. parsed.Manifest.Layers]);
        Assert.Equal(original.Annotations, parsed.Manifest.Annotations);
        Assert.Equal(serialized.Bytes.ToArray(), ManifestDocument.From(parsed.Manifest).Bytes.ToArray());
    }

    [Fact]
    public void From_DockerManifest_KeepsDockerMediaType()
    {
        var original = ManifestDocument.Parse(Bytes(DockerManifest)).Manifest!;
        var serialized = ManifestDocument.From(original);
        Assert.Equal(MediaTypes.DockerManifest, serialized.MediaType);
        Assert.Equal(MediaTypes.DockerManifest, ManifestDocument.Parse(serialized.Bytes).MediaType);
    }

    [Theory]
    [InlineData(OciIndex)]
    [InlineData(DockerManifestList)]
    public void From_Index_ParsesBackWithPlatforms(string json)
    {
        var original = ManifestDocument.Parse(Bytes(json));

        var serialized = ManifestDocument.From(original.Index!);
        var parsed = ManifestDocument.Parse(serialized.Bytes, serialized.MediaType);

        Assert.Equal(original.MediaType, parsed.MediaType);
        AssertSameDescriptors(original.Index!.Manifests, parsed.Index!.Manifests);
        Assert.Equal(original.Index.Manifests.Select(m => m.Platform), parsed.Index.Manifests.Select(m => m.Platform));
    }

    [Fact]
    public void From_AnnotationsInAnyOrder_SerializedSortedSoDigestIsStable()
    {
        var config = new Descriptor(MediaTypes.OciConfig, Digest.Parse(D1), 2);
        var a = ManifestDocument.From(new ImageManifest { Config = config with { Annotations = new Dictionary<string, string> { ["b"] = "2", ["a"] = "1" } }, Layers = [] });
        var b = ManifestDocument.From(new ImageManifest { Config = config with { Annotations = new Dictionary<string, string> { ["a"] = "1", ["b"] = "2" } }, Layers = [] });
        Assert.Equal(a.Digest, b.Digest);
        Assert.Contains("\"a\":\"1\",\"b\":\"2\"", Encoding.UTF8.GetString(a.Bytes.Span));
    }

    private static void AssertSameDescriptors(IEnumerable<Descriptor> expected, IEnumerable<Descriptor> actual)
    {
        Assert.Equal(
            expected.Select(d => (d.MediaType, d.Digest, d.Size, Annotations: string.Join(",", d.Annotations ?? new Dictionary<string, string>()))),
            actual.Select(d => (d.MediaType, d.Digest, d.Size, Annotations: string.Join(",", d.Annotations ?? new Dictionary<string, string>()))));
    }

    private static byte[] PadTo(byte[] json, int size)
    {
        // Trailing whitespace is valid JSON, so the document stays parseable at any size.
        byte[] padded = new byte[size];
        json.CopyTo(padded, 0);
        padded.AsSpan(json.Length).Fill((byte)' ');
        return padded;
    }
}

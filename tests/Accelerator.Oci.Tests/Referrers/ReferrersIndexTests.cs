using System.Text;
using Accelerator.Oci.Model;
using Accelerator.Oci.Referrers;
using Accelerator.Testing.Fuzzing;

namespace Accelerator.Oci.Tests.Referrers;

public sealed class ReferrersIndexTests
{
    private const string ArtifactType = "application/vnd.example.sbom.v1";

    [Fact]
    public void Parse_AnswerWithSeveralTypes_KeepsManifestsOfTheTypeAsked()
    {
        var sbom = Referrer(ArtifactType, 1);
        var signature = Referrer("application/vnd.example.signature.v1", 2);
        byte[] body = ReferrersIndex.Build([sbom, signature, new Descriptor(MediaTypes.OciLayerGzip, Digest.Compute("layer"u8), 5)]).Bytes.ToArray();

        var all = ReferrersIndex.Parse(body);
        var filtered = ReferrersIndex.Parse(body, ArtifactType);

        Assert.Equal([sbom.Digest, signature.Digest], all.Select(d => d.Digest));
        var only = Assert.Single(filtered);
        Assert.Equal(sbom.Digest, only.Digest);
        Assert.Equal("2026-01-01T00:00:01Z", only.Annotations!["org.opencontainers.image.created"]);
    }

    [Fact]
    public void Parse_NotAnIndex_InvalidData()
    {
        Assert.Throws<InvalidDataException>(() => ReferrersIndex.Parse("""{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","manifests":[]}"""u8));
        Assert.Throws<InvalidDataException>(() => ReferrersIndex.Parse("[]"u8));
        Assert.Throws<InvalidDataException>(() => ReferrersIndex.Parse("{\"manifests\":[{\"mediaType\":\"x\",\"digest\":\"sha256:00\",\"size\":1}]}"u8));
    }

    [Fact]
    public void Parse_MoreReferrersThanTheBound_InvalidData()
    {
        var many = Enumerable.Range(0, ReferrersIndex.MaxReferrers + 1).Select(i => Referrer(ArtifactType, i % 60));
        byte[] body = ReferrersIndex.Build(many).Bytes.ToArray();

        var error = Assert.Throws<InvalidDataException>(() => ReferrersIndex.Parse(body));
        Assert.Contains("over the limit", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_OverTheByteBound_InvalidDataBeforeParsing()
    {
        byte[] body = new byte[ReferrersIndex.MaxBytes + 1];

        Assert.Throws<InvalidDataException>(() => ReferrersIndex.Parse(body));
    }

    [Fact]
    public void Parse_FuzzedAnswer_CleanErrorOrResult()
    {
        byte[] seed = ReferrersIndex.Build([Referrer(ArtifactType, 1), Referrer("application/vnd.example.other", 2)]).Bytes.ToArray();
        var random = new Random(16_2026);
        for (int i = 0; i < 2000; i++)
        {
            byte[] input = i % 4 == 0 ? FuzzInput.RandomBytes(random, 256) : FuzzInput.Mutate(seed, random);
            try
            {
                var parsed = ReferrersIndex.Parse(input, i % 2 == 0 ? ArtifactType : null);
                Assert.All(parsed, d => Assert.True(MediaTypes.IsManifest(d.MediaType) || MediaTypes.IsIndex(d.MediaType)));
                Assert.True(parsed.Count <= ReferrersIndex.MaxReferrers);
                Assert.All(parsed, d => Assert.True(i % 2 != 0 || d.ArtifactType == ArtifactType));
            }
            catch (InvalidDataException)
            {
            }
        }
    }

    [Fact]
    public void TagFor_Sha256Digest_AlgorithmDashHex()
    {
        var digest = Digest.Compute("subject"u8);

        Assert.Equal("sha256-" + digest.Encoded, ReferrersTagScheme.TagFor(digest));
    }

    [Fact]
    public void DescribeReferrer_ArtifactManifest_CarriesArtifactTypeAndAnnotations()
    {
        var subject = Descriptor.FromContent(MediaTypes.OciManifest, "image"u8);
        var manifest = ManifestDocument.From(new ImageManifest
        {
            ArtifactType = ArtifactType,
            Config = Descriptor.FromContent(MediaTypes.OciEmpty, "{}"u8),
            Layers = [],
            Subject = subject,
            Annotations = new Dictionary<string, string> { ["a"] = "b" },
        });

        var described = ReferrersIndex.DescribeReferrer(manifest);

        Assert.Equal(manifest.Digest, described.Digest);
        Assert.Equal(ArtifactType, described.ArtifactType);
        Assert.Equal("b", described.Annotations!["a"]);
    }

    private static Descriptor Referrer(string artifactType, int second)
        => new(MediaTypes.OciManifest, Digest.Compute(Encoding.UTF8.GetBytes(artifactType + second)), 500)
        {
            ArtifactType = artifactType,
            Annotations = new Dictionary<string, string> { ["org.opencontainers.image.created"] = $"2026-01-01T00:00:{second:00}Z" },
        };
}

using Accelerator.Oci.Model;
using Accelerator.Testing.Fuzzing;

namespace Accelerator.Oci.Tests.Model;

/// <summary>Random and mutated manifests: a clean documented exception or a correct, usable document.</summary>
public sealed class ManifestDocumentFuzzTests
{
    private static readonly string?[] Headers =
    [
        null, MediaTypes.OciManifest, MediaTypes.OciIndex, MediaTypes.DockerManifest, MediaTypes.DockerManifestList,
        "application/json", "application/vnd.example+json", "",
    ];

    [Fact]
    public void Parse_MutatedDocuments_CleanErrorOrValidDocument()
    {
        var random = new Random(31337);
        var seeds = SampleDocuments.All.Select(SampleDocuments.Bytes).ToArray();
        for (int i = 0; i < 6000; i++)
        {
            byte[] input = FuzzInput.Mutate(seeds[random.Next(seeds.Length)], random);
            Check(input, random);
        }
    }

    [Fact]
    public void Parse_RandomBytes_CleanError()
    {
        var random = new Random(4242);
        for (int i = 0; i < 2000; i++)
        {
            Check(FuzzInput.RandomBytes(random, 512), random);
        }
    }

    private static void Check(byte[] input, Random random)
    {
        string? header = Headers[random.Next(Headers.Length)];
        Digest? expected = random.Next(3) switch
        {
            0 => Digest.Compute(input),
            1 => Digest.Compute("something else"u8),
            _ => null,
        };

        ManifestDocument document;
        try
        {
            document = ManifestDocument.Parse(input, header, expected);
        }
        catch (Exception ex) when (ex is FormatException or NotSupportedException or ContentTooLargeException or DigestMismatchException)
        {
            return;
        }

        // A document that parses is whole: right digest, a manifest or an index, no null entries, usable as is.
        Assert.Equal(Digest.Compute(input), document.Digest);
        Assert.True(document.Manifest is null != (document.Index is null));
        if (document.Index is { } index)
        {
            Assert.True(MediaTypes.IsIndex(document.MediaType));
            Assert.All(index.Manifests, m => Assert.NotNull(m));
            _ = index.SelectPlatform(Platform.LinuxAmd64);
            _ = ManifestDocument.From(index);
        }
        else
        {
            var manifest = document.Manifest!;
            Assert.True(MediaTypes.IsManifest(document.MediaType));
            Assert.NotNull(manifest.Config);
            Assert.All(manifest.Layers, l => Assert.NotNull(l));
            _ = ManifestDocument.From(manifest);
        }
    }
}

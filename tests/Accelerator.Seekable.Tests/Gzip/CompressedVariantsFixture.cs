using Accelerator.Seekable.Gzip;
using Accelerator.Testing.Images;

namespace Accelerator.Seekable.Tests.Gzip;

/// <summary>
/// One real tar (the package layer of the layered corpus image, uncompressed by <c>gzip -dc</c>) compressed by real
/// tools in several ways: <c>gzip -1</c>, <c>gzip -9</c>, <c>pigz</c>, several concatenated gzip members (one of them
/// empty), and not at all.
/// </summary>
public sealed class CompressedVariantsFixture : IAsyncLifetime
{
    public const string Gzip1 = "gzip-1";
    public const string Gzip9 = "gzip-9";
    public const string Pigz = "pigz";
    public const string MultiMember = "multi-member";
    public const string Uncompressed = "tar";

    private readonly string _work = Directory.CreateTempSubdirectory("accel-gzip-variants-").FullName;

    public string Work => _work;

    public string TarPath => Path.Combine(_work, "layer.tar");

    /// <summary>The variants by name.</summary>
    internal Dictionary<string, LayerFile> Variants { get; } = new(StringComparer.Ordinal);

    /// <summary>The tar-index of the uncompressed tar: its entries are what every variant's index must list.</summary>
    internal GzipLayerIndex TarIndex { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        LayerFile source = (await GzipTestLayers.CorpusLayersAsync(DebianImageCorpus.Layered)).First(l => l.Descriptor.Size is > (1 << 20) and < (32 << 20));
        string tar = TarPath;
        await GzipTestLayers.ShellAsync($"gzip -dc '{source.Path}' > '{tar}'");
        await GzipTestLayers.ShellAsync($"gzip -1 -c '{tar}' > '{_work}/{Gzip1}'");
        await GzipTestLayers.ShellAsync($"gzip -9 -c '{tar}' > '{_work}/{Gzip9}'");
        await GzipTestLayers.ShellAsync($"pigz -p 2 -c '{tar}' > '{_work}/{Pigz}'");

        // Members cut at arbitrary byte positions (not on tar blocks), with an empty member between two of them.
        await GzipTestLayers.ShellAsync(
            $"cd '{_work}' && split -n 5 -d layer.tar part. && for p in part.0*; do gzip -6 -c $p > $p.gz; done && gzip -c < /dev/null > empty.gz"
            + $" && cat part.00.gz part.01.gz empty.gz part.02.gz part.03.gz part.04.gz > {MultiMember} && rm part.*");
        File.Copy(tar, Path.Combine(_work, Uncompressed));

        foreach (string name in new[] { Gzip1, Gzip9, Pigz, MultiMember })
        {
            Variants[name] = GzipTestLayers.Describe(Path.Combine(_work, name));
        }

        Variants[Uncompressed] = GzipTestLayers.Describe(Path.Combine(_work, Uncompressed), "application/vnd.oci.image.layer.v1.tar");
        TarIndex = await GzipTestLayers.BuildAsync(Variants[Uncompressed], GzipIndexOptions.MinSpanSize);
    }

    public Task DisposeAsync()
    {
        Directory.Delete(_work, recursive: true);
        return Task.CompletedTask;
    }
}

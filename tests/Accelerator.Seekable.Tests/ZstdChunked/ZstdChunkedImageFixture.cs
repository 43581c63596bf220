using Accelerator.Oci.Layout;
using Accelerator.Testing.Images;

namespace Accelerator.Seekable.Tests.ZstdChunked;

/// <summary>The layered Debian corpus image converted once per test class to zstd:chunked by skopeo (~25 s).</summary>
public sealed class ZstdChunkedImageFixture : IAsyncLifetime
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), $"accel-zstdchunked-{Guid.NewGuid():N}");

    /// <summary>The original (gzip) image's layout.</summary>
    public OciImageLayout Original { get; private set; } = null!;

    /// <summary>The original image's layers.</summary>
    public IReadOnlyList<Descriptor> OriginalLayers { get; private set; } = [];

    /// <summary>The zstd:chunked image's layout.</summary>
    public OciImageLayout Layout { get; private set; } = null!;

    /// <summary>The zstd:chunked image's layers.</summary>
    public IReadOnlyList<Descriptor> Layers { get; private set; } = [];

    /// <inheritdoc />
    public async Task InitializeAsync()
    {
        var image = await DebianImageCorpus.GetAsync(DebianImageCorpus.Layered);
        string layout = Path.Combine(_root, "layout");
        Directory.CreateDirectory(_root);
        await ZstdChunkedTool.ConvertImageAsync(image.LayoutPath, image.Tag, layout);
        Layout = OciImageLayout.Open(layout);
        Layers = (await Layout.GetManifestAsync(ImageReference.Parse($"oci:{layout}:{image.Tag}"))).Manifest!.Layers;
        Original = OciImageLayout.Open(image.LayoutPath);
        OriginalLayers = (await Original.GetManifestAsync(ImageReference.Parse($"oci:{image.LayoutPath}:{image.Tag}"))).Manifest!.Layers;
    }

    /// <summary>The bytes of a blob of the zstd:chunked layout.</summary>
    public byte[] ReadBlob(Descriptor blob) => File.ReadAllBytes(Layout.GetBlobPath(blob.Digest));

    /// <inheritdoc />
    public Task DisposeAsync()
    {
        if (Directory.Exists(_root))
        {
            Directory.Delete(_root, recursive: true);
        }

        return Task.CompletedTask;
    }
}

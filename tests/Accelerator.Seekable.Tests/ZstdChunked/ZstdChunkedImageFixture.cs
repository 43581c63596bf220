using Accelerator.Oci.Layout;
using Accelerator.Testing.Images;

namespace Accelerator.Seekable.Tests.ZstdChunked;

/// <summary>The layered Debian corpus image and its zstd:chunked conversion by skopeo (cached, <see cref="SeekableCorpus"/>).</summary>
public sealed class ZstdChunkedImageFixture : IAsyncLifetime
{
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
        var original = await DebianImageCorpus.GetAsync(DebianImageCorpus.Layered);
        var converted = await SeekableCorpus.GetZstdChunkedAsync(DebianImageCorpus.Layered);
        Layout = OciImageLayout.Open(converted.LayoutPath);
        Layers = (await Layout.GetManifestAsync(ImageReference.Parse(converted.OciReference))).Manifest!.Layers;
        Original = OciImageLayout.Open(original.LayoutPath);
        OriginalLayers = (await Original.GetManifestAsync(ImageReference.Parse(original.OciReference))).Manifest!.Layers;
    }

    /// <summary>The bytes of a blob of the zstd:chunked layout.</summary>
    public byte[] ReadBlob(Descriptor blob) => File.ReadAllBytes(Layout.GetBlobPath(blob.Digest));

    /// <inheritdoc />
    public Task DisposeAsync() => Task.CompletedTask;
}

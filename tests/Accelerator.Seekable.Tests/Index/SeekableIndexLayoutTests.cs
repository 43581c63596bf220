using System.Text;
using Accelerator.Oci.Layout;
using Accelerator.Oci.Model;
using Accelerator.Oci.Referrers;
using Accelerator.Seekable.Gzip;
using Accelerator.Seekable.Index;

namespace Accelerator.Seekable.Tests.Index;

/// <summary>
/// Publishing and finding a seekable index in an OCI image layout (the layout's referrers: untagged index.json entries
/// whose subject is the image manifest). The real layout store; the layer index is built by <see cref="GzipIndexBuilder"/>.
/// </summary>
public sealed class SeekableIndexLayoutTests : IDisposable
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "accel-seekable-index-" + Guid.NewGuid().ToString("N"));

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public async Task FindAsync_PublishedToLayout_FoundThroughTheLayoutReferrers()
    {
        var (layout, image, manifest, layer, layerBytes) = await CreateImageAsync();
        var index = await GzipIndexBuilder.BuildAsync(new MemoryStream(layerBytes), layer, new GzipIndexOptions { SpanSize = 64 << 10 });

        var (published, listing) = await SeekableIndexPublisher.PublishAsync(layout, image, manifest.Descriptor, [index], 64 << 10, ["/usr/bin/tool"]);
        var (found, description) = await SeekableIndexFinder.FindAsync(layout, image, manifest.Descriptor);

        Assert.Equal(ImageReferrers.ApiSource, listing);
        Assert.NotNull(found);
        Assert.Equal(published.Digest, found.Digest);
        Assert.StartsWith("referrers API: " + published.Digest, description, StringComparison.Ordinal);
        Assert.Equal(manifest.Digest, found.Subject.Digest);
        Assert.Equal(64 << 10, found.SpanSize);
        var read = await found.ReadLayerIndexAsync(layer);
        Assert.NotNull(read);
        Assert.Equal(layer, read.Layer);
        Assert.Equal(["/usr/bin/tool"], await found.ReadPrefetchListAsync());
        // The layout still resolves its one image without a tag: a referrer is not an image of the layout.
        Assert.Equal(manifest.Digest, (await layout.ResolveTagAsync(null)).Digest);
    }

    [Fact]
    public async Task FindAsync_PublishedTwice_NewestWins()
    {
        var (layout, image, manifest, layer, layerBytes) = await CreateImageAsync();
        var index = await GzipIndexBuilder.BuildAsync(new MemoryStream(layerBytes), layer, new GzipIndexOptions { SpanSize = 64 << 10 });
        var older = new FixedTime(DateTimeOffset.Parse("2026-01-01T00:00:00Z", System.Globalization.CultureInfo.InvariantCulture));
        var newer = new FixedTime(DateTimeOffset.Parse("2026-06-01T00:00:00Z", System.Globalization.CultureInfo.InvariantCulture));

        var (second, _) = await SeekableIndexPublisher.PublishAsync(layout, image, manifest.Descriptor, [index], 64 << 10, null, newer);
        var (first, _) = await SeekableIndexPublisher.PublishAsync(layout, image, manifest.Descriptor, [index], 64 << 10, null, older);
        var (found, _) = await SeekableIndexFinder.FindAsync(layout, image, manifest.Descriptor);

        Assert.NotEqual(first.Digest, second.Digest);
        Assert.Equal(second.Digest, found?.Digest);
    }

    [Fact]
    public async Task FindAsync_NoIndex_NullWithReason()
    {
        var (layout, image, manifest, _, _) = await CreateImageAsync();

        var (found, description) = await SeekableIndexFinder.FindAsync(layout, image, manifest.Descriptor);

        Assert.Null(found);
        Assert.Contains("no seekable index", description, StringComparison.Ordinal);
        Assert.Contains("referrers API", description, StringComparison.Ordinal);
    }

    private async Task<(OciImageLayout Layout, ImageReference Image, ManifestDocument Manifest, Descriptor Layer, byte[] LayerBytes)> CreateImageAsync()
    {
        var layout = OciImageLayout.Create(_directory);
        byte[] layerBytes = Tar(("usr/bin/tool", Encoding.ASCII.GetBytes(new string('x', 100_000))));
        var layer = Descriptor.FromContent(MediaTypes.OciLayer, layerBytes);
        byte[] configBytes = """{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"""u8.ToArray();
        var config = Descriptor.FromContent(MediaTypes.OciConfig, configBytes);
        await layout.PushBlobAsync(layer, new MemoryStream(layerBytes));
        await layout.PushBlobAsync(config, new MemoryStream(configBytes));
        var manifest = ManifestDocument.From(new ImageManifest { Config = config, Layers = [layer] });
        await layout.PushManifestAsync(manifest, "v1");
        return (layout, ImageReference.Parse($"oci:{_directory}:v1"), manifest, layer, layerBytes);
    }

    private static byte[] Tar(params (string Name, byte[] Content)[] files)
    {
        using var buffer = new MemoryStream();
        using (var writer = new System.Formats.Tar.TarWriter(buffer, System.Formats.Tar.TarEntryFormat.Pax, leaveOpen: true))
        {
            foreach (var (name, content) in files)
            {
                writer.WriteEntry(new System.Formats.Tar.PaxTarEntry(System.Formats.Tar.TarEntryType.RegularFile, name) { DataStream = new MemoryStream(content) });
            }
        }

        return buffer.ToArray();
    }

    private sealed class FixedTime(DateTimeOffset now) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => now;
    }
}

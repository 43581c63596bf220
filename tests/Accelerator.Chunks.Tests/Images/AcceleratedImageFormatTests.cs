using Accelerator.Chunks.Images;
using Accelerator.Oci.Model;

namespace Accelerator.Chunks.Tests.Images;

public sealed class AcceleratedImageFormatTests
{
    private static readonly AcceleratedImageFormat Format = new(
        "test image", "index", "application/vnd.accelerator.test.index.v1", "application/vnd.accelerator.test.data.v1", "dev.accelerator.test.version", 1, "-accel-test");

    private static ImageManifest Manifest(params string[] layerMediaTypes) => new()
    {
        Config = new Descriptor(MediaTypes.OciConfig, Digest.Compute("config"u8), 6),
        Layers = [.. layerMediaTypes.Select((m, i) => new Descriptor(m, Digest.Compute([(byte)i]), 1))],
    };

    [Fact]
    public void IsManifest_IndexThenData_True()
    {
        Assert.True(Format.IsManifest(Manifest(Format.IndexMediaType)));
        Assert.True(Format.IsManifest(Manifest(Format.IndexMediaType, Format.DataMediaType, Format.DataMediaType)));
    }

    [Theory]
    [InlineData()]
    [InlineData("application/vnd.accelerator.test.data.v1")]
    [InlineData("application/vnd.accelerator.test.data.v1", "application/vnd.accelerator.test.index.v1")]
    [InlineData("application/vnd.accelerator.test.index.v1", "application/vnd.oci.image.layer.v1.tar+gzip")]
    public void IsManifest_OtherLayers_False(params string[] layers)
    {
        Assert.False(Format.IsManifest(Manifest(layers)));
    }

    [Fact]
    public void IsAccelerated_AnyProjectMediaType_TrueOrdinaryImageFalse()
    {
        Assert.True(AcceleratedImageFormat.IsAccelerated(Manifest("application/vnd.accelerator.lazy.bootstrap.v1+zstd", "application/vnd.accelerator.lazy.chunks.v1")));
        Assert.True(AcceleratedImageFormat.IsAccelerated(Manifest(Format.IndexMediaType)));
        Assert.False(AcceleratedImageFormat.IsAccelerated(Manifest("application/vnd.oci.image.layer.v1.tar+gzip")));
        Assert.False(AcceleratedImageFormat.IsAccelerated(Manifest()));
    }

    [Fact]
    public void VariantOf_Tag_SuffixAddedNoTag_ArgumentException()
    {
        Assert.Equal("registry.example/app:1.0-accel-test", Format.VariantOf(ImageReference.Parse("registry.example/app:1.0")).ToString());

        var error = Assert.Throws<ArgumentException>(() => Format.VariantOf(ImageReference.Parse($"registry.example/app@{Digest.Compute("x"u8)}")));
        Assert.Contains("test image's tag", error.Message, StringComparison.Ordinal);
    }
}

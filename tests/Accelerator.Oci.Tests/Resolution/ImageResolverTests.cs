using Accelerator.Oci.Layout;
using Accelerator.Oci.Resolution;
using Accelerator.Testing.Samples;

namespace Accelerator.Oci.Tests.Resolution;

public sealed class ImageResolverTests : IDisposable
{
    private readonly string _temp = Directory.CreateTempSubdirectory("accel-resolver-").FullName;

    public void Dispose() => Directory.Delete(_temp, recursive: true);

    [Fact]
    public async Task ResolveAsync_SinglePlatformImageNoPlatformAsked_ResolvesWhateverItIsFor()
    {
        var (layout, reference) = await WriteAsync("s390x");

        var resolved = await ImageResolver.ResolveAsync(layout, reference);

        Assert.Equal("s390x", resolved.Config.Architecture);
    }

    [Fact]
    public async Task ResolveAsync_SinglePlatformImageMatchingPlatformAsked_Resolves()
    {
        var (layout, reference) = await WriteAsync("arm64");

        var resolved = await ImageResolver.ResolveAsync(layout, reference, Platform.Parse("linux/arm64/v8"));

        Assert.Equal(3, resolved.Layers.Count);
    }

    [Fact]
    public async Task ResolveAsync_SinglePlatformImageOtherPlatformAsked_ThrowsNamingBoth()
    {
        var (layout, reference) = await WriteAsync("amd64");

        var error = await Assert.ThrowsAsync<PlatformNotFoundException>(() => ImageResolver.ResolveAsync(layout, reference, Platform.Parse("linux/s390x")));

        Assert.Equal($"{reference} has no image for platform linux/s390x; it has: linux/amd64.", error.Message);
    }

    private async Task<(OciImageLayout Layout, ImageReference Reference)> WriteAsync(string architecture)
    {
        var image = await SampleImageGenerator.WriteLayoutAsync(Path.Combine(_temp, architecture), new SampleImageOptions { TotalSize = 64 * 1024, Architecture = architecture });
        return (OciImageLayout.Open(image.LayoutPath), ImageReference.Parse(image.OciReference));
    }
}

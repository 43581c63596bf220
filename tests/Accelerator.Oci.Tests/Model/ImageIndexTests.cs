using Accelerator.Oci.Model;

namespace Accelerator.Oci.Tests.Model;

public sealed class ImageIndexTests
{
    private static int _next;

    private static Descriptor Entry(string platform, string mediaType = MediaTypes.OciManifest)
    {
        string hex = Interlocked.Increment(ref _next).ToString("x64");
        var parsed = Platform.Parse(platform);
        return new Descriptor(mediaType, Digest.Parse("sha256:" + hex), 100) { Platform = parsed };
    }

    private static ImageIndex Index(params Descriptor[] manifests) => new() { Manifests = manifests };

    [Fact]
    public void SelectPlatform_ExactVariantPresent_PreferredOverVariantless()
    {
        var variantless = Entry("linux/arm");
        var v6 = Entry("linux/arm/v6");
        Assert.Same(v6, Index(variantless, v6).SelectPlatform(Platform.Parse("linux/arm/v6")));
    }

    [Fact]
    public void SelectPlatform_OnlyVariantless_FallsBackToIt()
    {
        var variantless = Entry("linux/arm");
        var v7 = Entry("linux/arm/v7");
        Assert.Same(variantless, Index(variantless, v7).SelectPlatform(Platform.Parse("linux/arm/v6")));
    }

    [Fact]
    public void SelectPlatform_OtherVariantOnly_NoMatch()
        => Assert.Null(Index(Entry("linux/arm/v7")).SelectPlatform(Platform.Parse("linux/arm/v6")));

    [Fact]
    public void SelectPlatform_AmdVariantlessWanted_PrefersVariantlessEntry()
    {
        var v3 = Entry("linux/amd64/v3");
        var plain = Entry("linux/amd64");
        Assert.Same(plain, Index(v3, plain).SelectPlatform(Platform.Parse("linux/amd64")));
    }

    [Theory]
    [InlineData("linux/arm64", "linux/arm64/v8")]
    [InlineData("linux/arm64/v8", "linux/arm64")]
    [InlineData("linux/aarch64", "linux/arm64/v8")]
    [InlineData("linux/arm64/8", "linux/arm64")]
    public void SelectPlatform_Arm64DefaultsToV8_Matches(string wanted, string offered)
    {
        var entry = Entry(offered);
        Assert.Same(entry, Index(Entry("linux/amd64"), entry).SelectPlatform(Platform.Parse(wanted)));
    }

    [Theory]
    [InlineData("linux/x86_64", "linux/amd64")]
    [InlineData("linux/amd64", "linux/x86_64")]
    [InlineData("LINUX/AMD64", "linux/amd64")]
    [InlineData("linux/i686", "linux/386")]
    public void SelectPlatform_ArchitectureAliases_Normalized(string wanted, string offered)
    {
        var entry = Entry(offered);
        Assert.Same(entry, Index(Entry("linux/arm64"), entry).SelectPlatform(Platform.Parse(wanted)));
    }

    [Theory]
    [InlineData("linux/s390x")]
    [InlineData("windows/amd64")]
    [InlineData("linux/riscv64")]
    public void SelectPlatform_NoMatch_ReturnsNull(string wanted)
        => Assert.Null(Index(Entry("linux/amd64"), Entry("linux/arm64/v8")).SelectPlatform(Platform.Parse(wanted)));

    [Fact]
    public void SelectPlatform_EntriesWithoutPlatformOrNotManifests_Skipped()
    {
        var noPlatform = Entry("linux/amd64") with { Platform = null };
        var notManifest = Entry("linux/amd64", "application/vnd.in-toto+json");
        var good = Entry("linux/amd64");
        Assert.Same(good, Index(noPlatform, notManifest, good).SelectPlatform(Platform.LinuxAmd64));
    }

    [Fact]
    public void SelectPlatform_NestedIndexEntry_Selectable()
    {
        var nested = Entry("linux/amd64", MediaTypes.OciIndex);
        Assert.Same(nested, Index(nested).SelectPlatform(Platform.LinuxAmd64));
    }

    [Fact]
    public void SelectPlatform_EmptyIndex_ReturnsNull()
        => Assert.Null(Index().SelectPlatform(Platform.LinuxAmd64));
}

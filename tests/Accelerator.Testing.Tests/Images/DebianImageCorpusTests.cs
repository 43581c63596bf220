using System.Text.Json;
using Accelerator.Testing.Images;

namespace Accelerator.Testing.Tests.Images;

/// <summary>
/// <see cref="DebianImageCorpus"/>: each image is a valid OCI layout with the layers its recipe names, the oddities of
/// real Debian trees are in it, and a second request is served from the cache.
/// </summary>
public sealed class DebianImageCorpusTests
{
    public static TheoryData<string> Names => [.. DebianImageCorpus.Names];

    [Theory]
    [MemberData(nameof(Names))]
    public async Task GetAsync_EachImage_ValidLayoutWithItsLayers(string name)
    {
        DebianImage image = await DebianImageCorpus.GetAsync(name);

        using var inspect = JsonDocument.Parse(await OciLayoutTools.InspectAsync(image.LayoutPath, image.Tag));
        Assert.Equal(image.LayerCount, inspect.RootElement.GetProperty("Layers").GetArrayLength());
        Assert.StartsWith(Path.GetFullPath(DebianImageCorpus.CacheRoot), image.LayoutPath, StringComparison.Ordinal);
        Assert.Same(image, await DebianImageCorpus.GetAsync(name));
    }

    [Fact]
    public async Task GetAsync_Minbase_HasUsrmergeDevFdAndAlternativesLinks()
    {
        DebianImage image = await DebianImageCorpus.GetAsync(DebianImageCorpus.Minbase);
        string work = Directory.CreateTempSubdirectory("accel-corpus-").FullName;
        try
        {
            string rootfs = await image.UnpackWithUmociAsync(Path.Combine(work, "bundle"));

            Assert.Equal("usr/lib", new FileInfo(Path.Combine(rootfs, "lib")).LinkTarget);
            Assert.Equal("/proc/self/fd", new FileInfo(Path.Combine(rootfs, "dev", "fd")).LinkTarget);
            Assert.Equal("/etc/alternatives/awk", new FileInfo(Path.Combine(rootfs, "usr", "bin", "awk")).LinkTarget);
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }
}

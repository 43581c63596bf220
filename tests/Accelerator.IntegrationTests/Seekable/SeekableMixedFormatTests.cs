using Accelerator.Lazy.Mounting;
using Accelerator.Testing.Registry;
using Accelerator.Testing.Trees;

namespace Accelerator.IntegrationTests.Seekable;

/// <summary>
/// An image mixing an indexed gzip layer, an eStargz layer and a zstd:chunked layer (<see cref="MixedFormatImageFixture"/>)
/// mounts lazily with each layer read its own way, and the tree equals umoci's unpack.
/// </summary>
public sealed class SeekableMixedFormatTests(MixedFormatImageFixture fixture) : IClassFixture<MixedFormatImageFixture>
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task MountAsync_GzipEstargzZstdChunked_TreeEqualsUmociEachLayerItsFormat(bool readOnly)
    {
        Assert.Equal([true, false, false], fixture.Report.Layers.Select(l => l.Indexed));
        string work = fixture.NewDirectory("mixed");
        string mountPoint = Directory.CreateDirectory(Path.Combine(work, "rootfs")).FullName;
        await using var accelerator = new ImageAcceleratorBuilder()
            .AddRegistry(fixture.Registry.Host, r => r.PlainHttp = true)
            .ConfigureRegistries(r => r.DockerConfigPath = TestRegistryOptions.NoDockerConfig)
            .PreferStrategies(Strategy.Lazy)
            .UseLazyMount(l =>
            {
                l.CacheDirectory = Path.Combine(work, "cache");
                l.StateDirectory = Path.Combine(work, "state");
                l.Prefetch = false;
            })
            .Build();

        await using var mounted = (LazyMountedImage)await accelerator.MountAsync(fixture.Image, mountPoint, new MountOptions { ReadOnly = readOnly });

        var differences = TreeSnapshot.Compare(fixture.Expected, TreeSnapshot.Capture(mountPoint));
        Assert.True(differences.Count == 0, "the mixed image differs from umoci's unpack:\n" + string.Join("\n", differences.Take(50)));
        Assert.Equal(
            [("gzip-index", "index"), ("estargz", "estargz"), ("zstd:chunked", "zstd:chunked")],
            mounted.LazyStatistics.Layers.Select(l => (l.Format, l.Source)));
        Assert.All(mounted.LazyStatistics.Layers, l => Assert.Equal(0, l.WholeReads));
    }
}

using Accelerator.Linux;
using Accelerator.FullPull;
using Accelerator.Testing.Samples;
using Accelerator.Testing.Trees;
using Microsoft.Extensions.Options;

namespace Accelerator.Tests.FullPull;

public sealed class FullPullMounterTests : IAsyncLifetime
{
    private readonly string _temp = Directory.CreateTempSubdirectory("accel-fullpull-").FullName;
    private SampleImage _image = null!;

    public async Task InitializeAsync()
        => _image = await SampleImageGenerator.WriteLayoutAsync(Path.Combine(_temp, "layout"), new SampleImageOptions { LayerCount = 3, TotalSize = 1024 * 1024, Seed = 4 });

    public Task DisposeAsync()
    {
        Directory.Delete(_temp, recursive: true);
        return Task.CompletedTask;
    }

    [Fact]
    public async Task MountAsync_LayoutImage_UnpacksTreeAndReportsFullStatistics()
    {
        string mountPoint = Path.Combine(_temp, "rootfs");
        await using var accelerator = new ImageAcceleratorBuilder().UseFullPull().Build();

        var mounted = await accelerator.MountAsync(ImageReference.Parse(_image.OciReference), mountPoint);

        Assert.Equal(mountPoint, mounted.MountPoint);
        Assert.Equal(_image.Manifest.Digest, mounted.ManifestDigest);
        AssertTreeHoldsImage(mountPoint);
        var statistics = mounted.Statistics;
        long layerBytes = _image.Layers.Sum(l => l.Size);
        Assert.Equal(Strategy.Full, statistics.Strategy);
        Assert.Equal(layerBytes, statistics.BytesFetched);
        Assert.Equal(layerBytes, Assert.Contains("layout", statistics.BytesFetchedBySource));
        Assert.Single(statistics.BytesFetchedBySource);
        Assert.Equal(_image.Files.Sum(f => f.Value), statistics.BytesRead);
        Assert.Empty(statistics.Fallbacks);

        await mounted.DisposeAsync();

        Assert.False(Directory.Exists(mountPoint));
    }

    [Fact]
    public async Task MountAsync_RemoveOnUnmountOff_KeepsTree()
    {
        string mountPoint = Path.Combine(_temp, "kept");
        await using var accelerator = new ImageAcceleratorBuilder().UseFullPull(o => o.RemoveOnUnmount = false).Build();

        await (await accelerator.MountAsync(ImageReference.Parse(_image.OciReference), mountPoint)).DisposeAsync();

        AssertTreeHoldsImage(mountPoint);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    public async Task MountAsync_MountUnpackedTree_OverlayOfPrivateTreeUnmountedAndRemovedOnDispose(bool readOnly)
    {
        string mountPoint = Directory.CreateDirectory(Path.Combine(_temp, "mounted")).FullName;
        string state = Path.Combine(_temp, "state");
        await using var accelerator = new ImageAcceleratorBuilder().UseFullPull(o =>
        {
            o.MountUnpackedTree = true;
            o.StateDirectory = state;
        }).Build();

        var mounted = await accelerator.MountAsync(ImageReference.Parse(_image.OciReference), mountPoint, new MountOptions { ReadOnly = readOnly });

        Assert.True(MountTable.IsMountPoint(mountPoint));
        AssertTreeHoldsImage(mountPoint);
        string privateDirectory = Assert.Single(Directory.EnumerateDirectories(state));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(privateDirectory));
        string written = Path.Combine(mountPoint, "written");
        if (readOnly)
        {
            Assert.ThrowsAny<IOException>(() => File.WriteAllText(written, "x"));
        }
        else
        {
            File.WriteAllText(written, "x");
            Assert.True(File.Exists(Path.Combine(privateDirectory, "upper", "written")));
            Assert.False(File.Exists(Path.Combine(privateDirectory, "tree", "written")));
        }

        await mounted.DisposeAsync();

        Assert.False(MountTable.IsMountPoint(mountPoint));
        Assert.Empty(Directory.EnumerateFileSystemEntries(mountPoint));
        Assert.Empty(Directory.EnumerateFileSystemEntries(state));
    }

    [Fact]
    public async Task MountAsync_LazyUnavailable_FallsBackToFullAndRecordsIt()
    {
        string mountPoint = Path.Combine(_temp, "fallback");
        await using var accelerator = new ImageAcceleratorBuilder()
            .UseFullPull()
            .AddMounter<UnavailableLazyMounter>()
            .PreferStrategies(Strategy.Lazy, Strategy.Full)
            .Build();

        await using var mounted = await accelerator.MountAsync(ImageReference.Parse(_image.OciReference), mountPoint);

        Assert.Equal([Strategy.Lazy, Strategy.Full], accelerator.Strategies);
        Assert.Equal(Strategy.Full, mounted.Statistics.Strategy);
        Assert.Equal((Strategy.Lazy, UnavailableLazyMounter.Reason), Assert.Single(mounted.Statistics.Fallbacks));
        AssertTreeHoldsImage(mountPoint);
    }

    [Fact]
    public async Task Strategies_NoOrderSet_DefaultOrderOfRegisteredMounters()
    {
        await using var accelerator = new ImageAcceleratorBuilder().UseFullPull().AddMounter<UnavailableLazyMounter>().Build();

        Assert.Equal([Strategy.Lazy, Strategy.Full], accelerator.Strategies);
    }

    [Fact]
    public async Task MountAsync_PlatformFromOptions_AppliesToTheMount()
    {
        await using var accelerator = new ImageAcceleratorBuilder()
            .UseFullPull()
            .Configure(o => o.Platform = Platform.Parse("linux/s390x"))
            .Build();

        await Assert.ThrowsAsync<Accelerator.Oci.Resolution.PlatformNotFoundException>(
            () => accelerator.MountAsync(ImageReference.Parse(_image.OciReference), Path.Combine(_temp, "s390x")));
        Assert.False(Directory.Exists(Path.Combine(_temp, "s390x")));
    }

    [Fact]
    public void Build_MaxParallelDownloadsZero_ThrowsOptionsValidationException()
    {
        var builder = new ImageAcceleratorBuilder().UseFullPull(o => o.MaxParallelDownloads = 0);

        var error = Assert.Throws<OptionsValidationException>(() => builder.Build());

        Assert.Equal(typeof(FullPullOptions), error.OptionsType);
        Assert.Contains(nameof(FullPullOptions.MaxParallelDownloads), error.Message);
    }

    private void AssertTreeHoldsImage(string root)
    {
        var files = TreeSnapshot.Capture(root, hashContent: false).Entries.Values
            .Where(e => e.Type == TreeEntryType.RegularFile)
            .ToDictionary(e => e.Path, e => e.Size, StringComparer.Ordinal);
        Assert.Equal(_image.Files.ToDictionary(f => f.Key, f => f.Value, StringComparer.Ordinal), files);
    }
}

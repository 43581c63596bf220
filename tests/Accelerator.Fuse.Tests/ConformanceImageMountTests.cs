using Accelerator.Fuse.Tests.Support;
using Accelerator.Testing.Images;
using Accelerator.Testing.Trees;
using P = Accelerator.Testing.Images.ConformancePaths;

namespace Accelerator.Fuse.Tests;

/// <summary>The foundation's conformance image, unpacked by umoci and served over FUSE, equals the unpacked tree.</summary>
public sealed class ConformanceImageMountTests : IAsyncLifetime
{
    private ConformanceImage? _image;
    private string _work = null!;
    private string _rootFs = null!;

    public async Task InitializeAsync()
    {
        _image = await ConformanceImage.BuildAsync();
        _work = Directory.CreateTempSubdirectory("accel-fuse-image-").FullName;
        _rootFs = await _image.UnpackWithUmociAsync(Path.Combine(_work, "bundle"));
    }

    public Task DisposeAsync()
    {
        _image?.Dispose();
        Directory.Delete(_work, recursive: true);
        return Task.CompletedTask;
    }

    [Fact]
    public async Task Mount_UmociUnpackOfConformanceImage_EqualsTheUnpackedTree()
    {
        string mountPoint = Directory.CreateDirectory(Path.Combine(_work, "mnt")).FullName;
        await using var mount = await DirectoryMount.MountAsync(_rootFs, mountPoint);

        var differences = TreeSnapshot.Compare(TreeSnapshot.Capture(_rootFs), TreeSnapshot.Capture(mountPoint), new TreeCompareOptions { MtimeGranularityNanoseconds = 100 });

        Assert.Empty(differences);
        Assert.Equal(P.SmallFileContent, await File.ReadAllTextAsync(mount[P.SmallFile]));
        Assert.Equal("one inode, three names\n", await File.ReadAllTextAsync(mount[P.LayerHardlinks[2]]));
        Assert.True(File.Exists(mount[P.CrossLayerHardlink]));
        Assert.False(Path.Exists(mount[P.WhitedOutFile]));
    }
}

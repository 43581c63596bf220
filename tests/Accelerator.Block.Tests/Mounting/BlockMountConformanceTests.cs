using Accelerator.Block.Disks;
using Accelerator.Block.Mounting;
using Accelerator.Block.Tests.Support;
using Accelerator.Testing.Conformance;

namespace Accelerator.Block.Tests.Mounting;

/// <summary>
/// The mount conformance suite over a block mount: the suite's tree made into an ext4 image with <c>mke2fs -d</c>,
/// served as a <see cref="FileVirtualDisk"/> through FUSE and a loop device, mounted read-only.
/// </summary>
public sealed class BlockMountConformanceTests(MountConformanceTree tree, Ext4ImageCache images)
    : MountConformanceTests(tree), IClassFixture<MountConformanceTree>, IClassFixture<Ext4ImageCache>
{
    // mke2fs -d (e2fsprogs 1.47.0) keeps whole seconds of timestamps; the disk itself is served byte for byte.
    protected override int TimestampGranularityNanoseconds => 1_000_000_000;

    // An ext4 image keeps its free blocks (unused ones cost nothing: the block format skips zero blocks).
    protected override bool ReportsFreeSpace => true;

    protected override async Task<IAsyncDisposable> MountAsync(string sourceDirectory, string mountPoint)
    {
        string image = await images.GetAsync(sourceDirectory);
        var mounter = new BlockMounter([], new BlockMountOptions { StateDirectory = images.Directory });
        return await mounter.MountDiskAsync(FileVirtualDisk.Open(image), mountPoint, readOnly: true, ownsDisk: true);
    }
}

/// <summary>ext4 images of source directories, built once per directory for a test class.</summary>
public sealed class Ext4ImageCache : IDisposable
{
    private readonly TempDirectory _directory = new();
    private readonly Dictionary<string, Task<string>> _images = new(StringComparer.Ordinal);

    public string Directory => _directory.Path;

    public Task<string> GetAsync(string sourceDirectory)
    {
        lock (_images)
        {
            if (!_images.TryGetValue(sourceDirectory, out var image))
            {
                image = Ext4Images.BuildAsync(sourceDirectory, _directory.Combine($"image-{_images.Count}.ext4"));
                _images[sourceDirectory] = image;
            }

            return image;
        }
    }

    public void Dispose() => _directory.Dispose();
}

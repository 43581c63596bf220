using Accelerator.Block.Layers;
using Accelerator.Block.Prefetch;
using Accelerator.Block.Tests.Support;

namespace Accelerator.Block.Tests.Conformance;

/// <summary>The read-only block image stack against the disk contract.</summary>
public sealed class BlockLayerStackConformanceTests : VirtualDiskConformanceTests
{
    private BlockTestImage? _image;

    protected override async Task<(IVirtualDisk Disk, byte[] Content)> CreateDiskAsync()
    {
        _image = await BlockTestImage.CreateAsync(freeBytes: 0);
        return (_image.Open(), File.ReadAllBytes(_image.RawPath));
    }

    protected override Task CleanUpAsync()
    {
        _image?.Dispose();
        return Task.CompletedTask;
    }
}

/// <summary>The copy-on-write layer over a block image against the disk contract.</summary>
public sealed class CopyOnWriteDiskConformanceTests : VirtualDiskConformanceTests
{
    private BlockTestImage? _image;

    protected override async Task<(IVirtualDisk Disk, byte[] Content)> CreateDiskAsync()
    {
        _image = await BlockTestImage.CreateAsync(freeBytes: 0);
        return (CopyOnWriteDisk.Open(_image.Open(), Path.Combine(_image.Root, "cow"), "base", ownsLower: true), File.ReadAllBytes(_image.RawPath));
    }

    protected override Task CleanUpAsync()
    {
        _image?.Dispose();
        return Task.CompletedTask;
    }
}

/// <summary>The trace recorder over a copy-on-write layer against the disk contract (it must pass everything through).</summary>
public sealed class BlockTraceRecorderConformanceTests : VirtualDiskConformanceTests
{
    private BlockTestImage? _image;

    protected override async Task<(IVirtualDisk Disk, byte[] Content)> CreateDiskAsync()
    {
        _image = await BlockTestImage.CreateAsync(freeBytes: 0);
        var cow = CopyOnWriteDisk.Open(_image.Open(), Path.Combine(_image.Root, "cow"), "base", ownsLower: true);
        return (new BlockTraceRecorder(cow, _image.Index.BlockSize, ownsInner: true), File.ReadAllBytes(_image.RawPath));
    }

    protected override Task CleanUpAsync()
    {
        _image?.Dispose();
        return Task.CompletedTask;
    }
}

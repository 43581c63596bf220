using Accelerator.Block.Disks;
using Accelerator.Block.Tests.Conformance;
using Accelerator.Block.Tests.Support;

namespace Accelerator.Block.Tests.Disks;

/// <summary>A writable raw image file against the disk contract.</summary>
public sealed class WritableFileVirtualDiskConformanceTests : VirtualDiskConformanceTests
{
    private readonly TempDirectory _directory = new();

    protected override Task<(IVirtualDisk Disk, byte[] Content)> CreateDiskAsync()
    {
        string path = RawImages.CreateRandom(_directory.Combine("rw.img"), 4 * 1024 * 1024, seed: 11);
        return Task.FromResult<(IVirtualDisk, byte[])>((FileVirtualDisk.Open(path, writable: true), File.ReadAllBytes(path)));
    }

    protected override Task CleanUpAsync()
    {
        _directory.Dispose();
        return Task.CompletedTask;
    }
}

/// <summary>A read-only raw image file against the disk contract.</summary>
public sealed class ReadOnlyFileVirtualDiskConformanceTests : VirtualDiskConformanceTests
{
    private readonly TempDirectory _directory = new();

    protected override Task<(IVirtualDisk Disk, byte[] Content)> CreateDiskAsync()
    {
        string path = RawImages.CreateRandom(_directory.Combine("ro.img"), 4 * 1024 * 1024, seed: 12);
        return Task.FromResult<(IVirtualDisk, byte[])>((FileVirtualDisk.Open(path), File.ReadAllBytes(path)));
    }

    protected override Task CleanUpAsync()
    {
        _directory.Dispose();
        return Task.CompletedTask;
    }
}

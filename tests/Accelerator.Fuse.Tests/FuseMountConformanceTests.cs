using Accelerator.Fuse.Tests.Support;
using Accelerator.Testing.Conformance;

namespace Accelerator.Fuse.Tests;

/// <summary>The mount conformance suite against a real directory served over FUSE (DirectoryChunkIndex, ChunkIndexFileSystem).</summary>
public sealed class FuseMountConformanceTests(MountConformanceTree tree) : MountConformanceTests(tree), IClassFixture<MountConformanceTree>
{
    // IChunkIndex's FileEntry.ModificationTime is a DateTimeOffset: 100 ns ticks. FUSE itself carries nanoseconds.
    protected override int TimestampGranularityNanoseconds => 100;

    protected override async Task<IAsyncDisposable> MountAsync(string sourceDirectory, string mountPoint)
        => await DirectoryMount.MountAsync(sourceDirectory, mountPoint);
}

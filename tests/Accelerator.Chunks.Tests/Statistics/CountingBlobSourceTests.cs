using Accelerator.Chunks.Statistics;
using Accelerator.Testing;
using Accelerator.Testing.Conformance;

namespace Accelerator.Chunks.Tests.Statistics;

/// <summary>The counting wrapper is a blob source like any other.</summary>
public sealed class CountingBlobSourceConformanceTests : BlobSourceConformanceTests
{
    protected override Task<IBlobSource> CreateSourceAsync(IReadOnlyList<KeyValuePair<Digest, byte[]>> blobs)
    {
        var inner = new InMemoryBlobSource();
        foreach (var (digest, content) in blobs)
        {
            inner.AddUnverified(digest, content);
        }

        return Task.FromResult<IBlobSource>(new CountingBlobSource(inner, "origin", new MountStatistics()));
    }

    [Fact]
    public async Task OpenRangeAsync_BytesRead_CountedUnderSourceName()
    {
        var inner = new InMemoryBlobSource();
        var descriptor = inner.Add(new byte[10_000]);
        var statistics = new MountStatistics();
        var source = new CountingBlobSource(inner, "mirror-a", statistics);

        await using (var stream = await source.OpenRangeAsync(new BlobAddress("", descriptor.Digest, descriptor.Size), 100, 5000))
        {
            byte[] buffer = new byte[1000];
            Assert.Equal(1000, await stream.ReadAsync(buffer));
        }

        Assert.Equal(1000, statistics.BytesFetchedBySource["mirror-a"]);
    }
}

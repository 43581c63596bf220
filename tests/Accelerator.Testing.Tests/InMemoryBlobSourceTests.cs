using Accelerator.Testing;
using Accelerator.Testing.Conformance;

namespace Accelerator.Testing.Tests;

/// <summary>The blob-source conformance suite run against <see cref="InMemoryBlobSource"/>, plus its own extras.</summary>
public sealed class InMemoryBlobSourceTests : BlobSourceConformanceTests
{
    protected override Task<IBlobSource> CreateSourceAsync(IReadOnlyList<KeyValuePair<Digest, byte[]>> blobs)
    {
        var source = new InMemoryBlobSource();
        foreach (var (digest, content) in blobs)
        {
            source.AddUnverified(digest, content);
        }

        return Task.FromResult<IBlobSource>(source);
    }

    [Fact]
    public async Task Counters_CountOpenedReadsAndBytes()
    {
        var source = new InMemoryBlobSource();
        var descriptor = source.Add(new byte[1000]);
        var address = new BlobAddress("", descriptor.Digest, descriptor.Size);

        await (await source.OpenReadAsync(address)).DisposeAsync();
        await (await source.OpenRangeAsync(address, 900, 500)).DisposeAsync();

        Assert.Equal(1, source.WholeReads);
        Assert.Equal(1, source.RangeReads);
        Assert.Equal(1100, source.BytesServed);
    }

    [Fact]
    public void AddAndRemove_TrackDigests()
    {
        var source = new InMemoryBlobSource();
        var descriptor = source.Add("abc"u8, "text/plain");
        Assert.Equal("text/plain", descriptor.MediaType);
        Assert.Equal([descriptor.Digest], source.Digests);
        Assert.True(source.Remove(descriptor.Digest));
        Assert.False(source.Remove(descriptor.Digest));
        Assert.Empty(source.Digests);
        Assert.Throws<ArgumentException>(() => source.AddUnverified(default, "x"u8));
    }
}

using Accelerator.Chunks.Caching;

namespace Accelerator.Chunks.Tests.Caching;

public sealed class ChunkCacheTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("accel-chunk-cache-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact]
    public void Open_TemporaryFiles_StaleOnesDeletedYoungOnesKept()
    {
        string directory = NewCacheDirectory();
        using (ChunkCache.Open(new ChunkCacheOptions { Directory = directory }))
        {
        }

        string temporary = Path.Combine(directory, "tmp", "abc.123.def");
        File.WriteAllText(temporary, "partial");

        using (ChunkCache.Open(new ChunkCacheOptions { Directory = directory }))
        {
            Assert.True(File.Exists(temporary));
        }

        using (ChunkCache.Open(new ChunkCacheOptions { Directory = directory, StaleTemporaryFileAge = TimeSpan.Zero }))
        {
            Assert.False(File.Exists(temporary));
        }
    }

    [Fact]
    public void Open_NewDirectory_PrivateToOwner()
    {
        string directory = NewCacheDirectory();
        using var cache = ChunkCache.Open(new ChunkCacheOptions { Directory = directory });

        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(directory));
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(1000)]
    public void Open_InvalidMaxBytes_ArgumentOutOfRange(long maxBytes)
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => ChunkCache.Open(new ChunkCacheOptions { Directory = NewCacheDirectory(), MaxCacheBytes = maxBytes }));
    }

    [Fact]
    public void Lookup_PendingThenFailed_WaitersGetErrorChunkAbsentNextLookupClaims()
    {
        using var cache = ChunkCache.Open(new ChunkCacheOptions { Directory = NewCacheDirectory() });
        Digest digest = Digest.Compute("chunk"u8);

        ChunkLookup first = cache.Lookup(digest, 5);
        ChunkLookup second = cache.Lookup(digest, 5);
        Assert.NotNull(first.Claim);
        Assert.Null(second.Claim);
        Assert.NotNull(second.Pending);
        Assert.Null(cache.TryClaim(digest, 5, includeUnverified: true));

        first.Claim.Fail(new IOException("network down"));

        Assert.IsType<IOException>(second.Pending.Exception!.InnerException);
        Assert.False(cache.Contains(digest));
        ChunkLookup third = cache.Lookup(digest, 5);
        Assert.NotNull(third.Claim);
        CachedChunk stored = third.Claim.Complete("chunk"u8);
        Assert.True(cache.Contains(digest));
        Assert.Same(stored, cache.Lookup(digest, 5).Ready);
        var statistics = cache.GetStatistics();
        Assert.Equal((1L, 1L, 2L, 1L), (statistics.Hits, statistics.Waits, statistics.Misses, statistics.Stored));
    }

    [Fact]
    public void Dispose_PendingClaim_WaitersReleased()
    {
        var cache = ChunkCache.Open(new ChunkCacheOptions { Directory = NewCacheDirectory() });
        Digest digest = Digest.Compute("chunk"u8);
        ChunkLookup first = cache.Lookup(digest, 5);
        ChunkLookup second = cache.Lookup(digest, 5);

        cache.Dispose();

        Assert.IsType<ObjectDisposedException>(second.Pending!.Exception!.InnerException);
        Assert.Throws<ObjectDisposedException>(() => cache.Lookup(digest, 5));
        first.Claim!.Complete("chunk"u8);
    }

    private string NewCacheDirectory() => Path.Combine(_root, Guid.NewGuid().ToString("N"));
}

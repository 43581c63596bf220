using Accelerator.Chunks.Caching;
using Accelerator.Testing.Host;

namespace Accelerator.Chunks.Tests.Issues;

/// <summary>
/// Issue 12, B15: a chunk store that runs out of space (ENOSPC) must leave no file that this or a later process could
/// take for a cached chunk: the reader still gets the verified bytes (from memory), nothing is indexed, no part stays
/// on disk, and once there is room the same chunk is cached normally.
/// </summary>
public sealed class Issue12_ChunkCacheDiskFullTests
{
    [Fact]
    public void Complete_DiskFull_ServesFromMemoryLeavesNoFileAndRetryWithRoomCaches()
    {
        using var disk = SmallTmpfs.Mount(1024 * 1024);
        string directory = Path.Combine(disk.Path, "chunks");
        byte[] data = new byte[2 * 1024 * 1024];
        new Random(15).NextBytes(data);
        Digest digest = Digest.Compute(data);

        using (var cache = ChunkCache.Open(new ChunkCacheOptions { Directory = directory }))
        {
            var claim = cache.Lookup(digest, data.Length).Claim!;
            CachedChunk chunk = claim.Complete(data);

            Assert.Null(chunk.Path);
            Assert.False(cache.Contains(digest));
            Assert.Equal(1, cache.GetStatistics().StoreFailures);
            Assert.Empty(Directory.EnumerateFiles(directory, "*", SearchOption.AllDirectories));
        }

        disk.Resize(16 * 1024 * 1024);
        using (var cache = ChunkCache.Open(new ChunkCacheOptions { Directory = directory }))
        {
            Assert.False(cache.Contains(digest));
            CachedChunk stored = cache.Lookup(digest, data.Length).Claim!.Complete(data);

            Assert.NotNull(stored.Path);
            Assert.True(cache.Contains(digest));
            Assert.Equal(data, File.ReadAllBytes(stored.Path));
        }
    }
}

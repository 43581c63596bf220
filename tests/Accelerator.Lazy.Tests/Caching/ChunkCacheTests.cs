using System.Security.Cryptography;
using Accelerator.Chunks.Caching;
using Accelerator.Lazy.Format;
using Accelerator.Lazy.Reading;
using Accelerator.Lazy.Tests.Reading;
using Accelerator.Lazy.Tests.Support;

namespace Accelerator.Lazy.Tests.Caching;

/// <summary>The chunk cache under the lazy file reader (the cache alone is tested in Accelerator.Chunks.Tests).</summary>
public sealed class ChunkCacheTests(FetchImageFixture fixture) : IClassFixture<FetchImageFixture>
{
    private static readonly LazyReaderOptions NoReadAhead = new() { ReadAheadBytes = 0 };

    private FetchTestImage Image => fixture.Image;

    [Fact]
    public async Task Open_SecondInstanceOnSameDirectory_ServesFromDiskWithoutFetching()
    {
        string directory = Image.NewCacheDirectory();
        using (var first = ChunkCache.Open(new ChunkCacheOptions { Directory = directory }))
        {
            var (reader, _, _) = Image.NewReader(cache: first);
            await ReadEverythingAsync(reader);
            Assert.Equal(Image.Bootstrap.ChunkCount, first.GetStatistics().Stored);
        }

        using var second = ChunkCache.Open(new ChunkCacheOptions { Directory = directory });
        Assert.Equal(Image.Bootstrap.ChunkCount, second.GetStatistics().Chunks);
        var (again, source, _) = Image.NewReader(cache: second);

        await ReadEverythingAsync(again);

        Assert.Equal(0, source.RangeCount);
        Assert.Equal(0, again.Statistics.Mount.BytesFetched);
        Assert.Equal(Image.Bootstrap.ChunkCount, second.GetStatistics().LoadedFromDisk);
        Assert.Equal(Image.Bootstrap.ChunkCount, again.Statistics.ChunksFromDisk);
        Assert.Equal(0, second.GetStatistics().CorruptFiles);
    }

    [Theory]
    [InlineData("truncate")]
    [InlineData("flip")]
    [InlineData("extend")]
    [InlineData("empty")]
    [InlineData("other-chunk")]
    public async Task Open_DamagedCacheFile_DetectedAndRefetchedNeverServed(string damage)
    {
        string directory = Image.NewCacheDirectory();
        ulong inode = Image.Inode("/big/text.txt");
        ChunkLocation victim = Image.Bootstrap.GetChunks(inode)[2];
        using (var first = ChunkCache.Open(new ChunkCacheOptions { Directory = directory }))
        {
            var (reader, _, _) = Image.NewReader(NoReadAhead, first);
            await FetchTestImage.ReadAllAsync(reader, inode);
            await FetchTestImage.ReadAllAsync(reader, Image.Inode("/big/random.bin"));
        }

        string path = Path.Combine(directory, "chunks-v1", "sha256", victim.ChunkDigest.Encoded[..2], victim.ChunkDigest.Encoded);
        byte[] good = File.ReadAllBytes(path);
        switch (damage)
        {
            case "truncate":
                File.WriteAllBytes(path, good[..(good.Length / 2)]);
                break;
            case "flip":
                byte[] flipped = [.. good];
                flipped[good.Length / 3] ^= 0x10;
                File.WriteAllBytes(path, flipped);
                break;
            case "extend":
                File.WriteAllBytes(path, [.. good, 0]);
                break;
            case "empty":
                File.WriteAllBytes(path, []);
                break;
            default:
                // Another chunk's (valid) bytes under this chunk's name, trimmed to the same size.
                ChunkLocation other = Image.Bootstrap.GetChunks(Image.Inode("/big/random.bin"))[0];
                byte[] otherBytes = File.ReadAllBytes(Path.Combine(directory, "chunks-v1", "sha256", other.ChunkDigest.Encoded[..2], other.ChunkDigest.Encoded));
                File.WriteAllBytes(path, otherBytes[..good.Length]);
                break;
        }

        using var second = ChunkCache.Open(new ChunkCacheOptions { Directory = directory });
        var (again, source, _) = Image.NewReader(NoReadAhead, second);

        Assert.Equal(Image.Files["/big/text.txt"], await FetchTestImage.ReadAllAsync(again, inode));

        Assert.Equal(1, source.RangeCount);
        Assert.True(source.Requests[0].Covers(victim.Blob, victim.CompressedOffset, victim.CompressedSize));
        Assert.Equal(1, second.GetStatistics().CorruptFiles);
        Assert.Equal(good, File.ReadAllBytes(path));
    }

    [Fact]
    public async Task Store_OverMaxBytes_EvictsLeastRecentlyUsedAndKeepsBound()
    {
        const long max = 1 << 20;
        string directory = Image.NewCacheDirectory();
        using var cache = ChunkCache.Open(new ChunkCacheOptions { Directory = directory, MaxCacheBytes = max });
        var (reader, _, _) = Image.NewReader(NoReadAhead, cache);
        ulong small = Image.Inode("/small/f000.txt");
        ulong big = Image.Inode("/big/random.bin");
        var bigChunks = Image.Bootstrap.GetChunks(big);
        Digest smallChunk = Image.Bootstrap.GetChunks(small)[0].ChunkDigest;
        byte[] buffer = new byte[FetchTestImage.ChunkSize];

        await reader.ReadAsync(small, 0, buffer);
        for (int i = 0; i < 10; i++)
        {
            await reader.ReadAsync(big, bigChunks[i].FileOffset, buffer);
        }

        await reader.ReadAsync(small, 0, buffer);
        for (int i = 10; i < bigChunks.Count; i++)
        {
            await reader.ReadAsync(big, bigChunks[i].FileOffset, buffer);
            Assert.InRange(cache.GetStatistics().Bytes, 0, max);
        }

        ChunkCacheStatistics statistics = cache.GetStatistics();
        Assert.True(statistics.Evictions >= 2, $"{statistics.Evictions} evictions");
        Assert.True(cache.Contains(smallChunk), "the recently used small chunk was evicted");
        Assert.False(cache.Contains(bigChunks[0].ChunkDigest));
        Assert.True(cache.Contains(bigChunks[^1].ChunkDigest));
        long onDisk = Directory.EnumerateFiles(Path.Combine(directory, "chunks-v1"), "*", SearchOption.AllDirectories).Sum(f => new FileInfo(f).Length);
        Assert.Equal(statistics.Bytes, onDisk);
        Assert.InRange(onDisk, 0, max);

        // An evicted chunk is fetched again when read.
        Assert.Equal(buffer.Length, await reader.ReadAsync(big, 0, buffer));
        Assert.Equal(Image.Files["/big/random.bin"][..buffer.Length], buffer);
    }

    [Fact]
    public async Task Open_MoreOnDiskThanBound_EvictsOldestAtOpen()
    {
        string directory = Image.NewCacheDirectory();
        using (var first = ChunkCache.Open(new ChunkCacheOptions { Directory = directory }))
        {
            var (reader, _, _) = Image.NewReader(cache: first);
            await FetchTestImage.ReadAllAsync(reader, Image.Inode("/big/random.bin"));
        }

        using var second = ChunkCache.Open(new ChunkCacheOptions { Directory = directory, MaxCacheBytes = 1 << 20 });

        Assert.InRange(second.GetStatistics().Bytes, 0, 1 << 20);
        Assert.True(second.GetStatistics().Evictions > 0);
    }

    [Fact]
    public async Task Open_TwoCachesSharingDirectory_SecondUsesFirstsFiles()
    {
        string directory = Image.NewCacheDirectory();
        using var a = ChunkCache.Open(new ChunkCacheOptions { Directory = directory });
        using var b = ChunkCache.Open(new ChunkCacheOptions { Directory = directory });
        var (readerA, _, _) = Image.NewReader(cache: a);
        var (readerB, sourceB, _) = Image.NewReader(cache: b);

        await ReadEverythingAsync(readerA);
        await ReadEverythingAsync(readerB);

        Assert.Equal(0, sourceB.RangeCount);
        Assert.Equal(Image.Bootstrap.ChunkCount, b.GetStatistics().LoadedFromDisk);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(256)]
    public async Task ReadAsync_CacheFilesDeletedBehindTheCache_StillCorrect(int maxOpenFiles)
    {
        string directory = Image.NewCacheDirectory();
        using var cache = ChunkCache.Open(new ChunkCacheOptions { Directory = directory, MaxOpenFiles = maxOpenFiles });
        var (reader, source, _) = Image.NewReader(NoReadAhead, cache);
        ulong inode = Image.Inode("/big/text.txt");
        await FetchTestImage.ReadAllAsync(reader, inode);
        int requests = source.RangeCount;

        foreach (string file in Directory.EnumerateFiles(Path.Combine(directory, "chunks-v1"), "*", SearchOption.AllDirectories))
        {
            File.Delete(file);
        }

        // Without open files, the chunks are fetched again; with them, the verified files are still read through the
        // handles until they are closed.
        Assert.Equal(Image.Files["/big/text.txt"], await FetchTestImage.ReadAllAsync(reader, inode));
        Assert.Equal(maxOpenFiles == 0, source.RangeCount > requests);
    }

    [Fact]
    public async Task ReadAsync_CacheFileTruncatedBehindOpenHandle_FetchedAgain()
    {
        string directory = Image.NewCacheDirectory();
        using var cache = ChunkCache.Open(new ChunkCacheOptions { Directory = directory });
        var (reader, source, _) = Image.NewReader(NoReadAhead, cache);
        ulong inode = Image.Inode("/big/random.bin");
        ChunkLocation last = Image.Bootstrap.GetChunks(inode)[^1];
        byte[] buffer = new byte[100];
        await reader.ReadAsync(inode, last.FileOffset, buffer);

        File.WriteAllBytes(cache.GetChunkPath(last.ChunkDigest), new byte[10]);

        Assert.Equal(100, await reader.ReadAsync(inode, last.FileOffset + 50, buffer));
        Assert.Equal(Image.Files["/big/random.bin"].AsSpan((int)last.FileOffset + 50, 100).ToArray(), buffer);
        Assert.Equal(2, source.RangeCount);
    }

    [Fact]
    public async Task ReadAsync_MoreChunksThanOpenFileLimit_AllReadCorrectly()
    {
        using var cache = ChunkCache.Open(new ChunkCacheOptions { Directory = Image.NewCacheDirectory(), MaxOpenFiles = 3 });
        var (reader, _, _) = Image.NewReader(cache: cache);

        await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => Task.Run(() => ReadEverythingAsync(reader))));
    }

    [Fact]
    public async Task Store_FileCannotBeWritten_ServedFromMemoryAndLeftAbsent()
    {
        string directory = Image.NewCacheDirectory();
        using var cache = ChunkCache.Open(new ChunkCacheOptions { Directory = directory });
        ulong inode = Image.Inode("/big/text.txt");
        ChunkLocation chunk = Image.Bootstrap.GetChunks(inode)[0];
        string prefix = Path.GetDirectoryName(cache.GetChunkPath(chunk.ChunkDigest))!;
        Directory.CreateDirectory(Path.GetDirectoryName(prefix)!);
        File.WriteAllText(prefix, "a file where the prefix directory should be");
        var (reader, source, _) = Image.NewReader(NoReadAhead, cache);
        byte[] buffer = new byte[1000];

        Assert.Equal(1000, await reader.ReadAsync(inode, 0, buffer));
        Assert.Equal(Image.Files["/big/text.txt"][..1000], buffer);
        Assert.Equal(1, cache.GetStatistics().StoreFailures);
        Assert.False(cache.Contains(chunk.ChunkDigest));
        Assert.Empty(Directory.EnumerateFiles(Path.Combine(directory, "tmp")));

        Assert.Equal(1000, await reader.ReadAsync(inode, 0, buffer));
        Assert.Equal(2, source.RangeCount);
    }

    [Fact]
    public async Task Open_RandomJunkInDirectory_NeverServedAlwaysCorrect()
    {
        // Fuzz-style: whatever the directory holds, a read returns the image's bytes.
        var chunks = Enumerable.Range(0, Image.Bootstrap.ChunkCount).Select(Image.Bootstrap.GetChunk).ToArray();
        for (int seed = 0; seed < 4; seed++)
        {
            var random = new Random(seed);
            string directory = Image.NewCacheDirectory();
            string root = Path.Combine(directory, "chunks-v1", "sha256");
            for (int i = 0; i < 40; i++)
            {
                LazyChunk chunk = chunks[random.Next(chunks.Length)];
                string hex = random.Next(4) switch
                {
                    0 => chunk.Digest.Encoded,
                    1 => Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32)),
                    2 => chunk.Digest.Encoded.ToUpperInvariant(),
                    _ => chunk.Digest.Encoded[..random.Next(1, 64)],
                };
                string prefix = random.Next(5) == 0 ? "zz" : hex[..Math.Min(2, hex.Length)];
                Directory.CreateDirectory(Path.Combine(root, prefix));
                int size = random.Next(3) switch { 0 => chunk.UncompressedSize, 1 => random.Next(0, 100), _ => random.Next(1, 2 * chunk.UncompressedSize) };
                byte[] content = new byte[size];
                random.NextBytes(content);
                if (random.Next(4) == 0)
                {
                    Directory.CreateDirectory(Path.Combine(root, prefix, hex + "-dir"));
                }

                File.WriteAllBytes(Path.Combine(root, prefix, hex), content);
            }

            using var cache = ChunkCache.Open(new ChunkCacheOptions { Directory = directory });
            var (reader, _, _) = Image.NewReader(cache: cache);
            await ReadEverythingAsync(reader);
            Assert.Equal(Image.Bootstrap.ChunkCount, cache.GetStatistics().Stored + cache.GetStatistics().LoadedFromDisk);
        }
    }

    private async Task ReadEverythingAsync(LazyFileReader reader)
    {
        foreach (var (path, content) in Image.Files)
        {
            Assert.Equal(content, await FetchTestImage.ReadAllAsync(reader, Image.Inode(path)));
        }
    }
}

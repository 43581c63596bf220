using Accelerator.Lazy.Format;
using Accelerator.Lazy.Prefetch;
using Accelerator.Lazy.Reading;
using Accelerator.Lazy.Tests.Reading;
using Accelerator.Lazy.Tests.Support;

namespace Accelerator.Lazy.Tests.Prefetch;

public sealed class LazyPrefetcherTests : IAsyncLifetime
{
    private static readonly string[] PrefetchList = ["/small/f150.txt", "/big/text.txt", "/not/in/image", "/holes/middle.bin"];

    private FetchTestImage _image = null!;

    public async Task InitializeAsync() => _image = await FetchTestImage.CreateInTempAsync(PrefetchList);

    public Task DisposeAsync()
    {
        _image.Dispose();
        return Task.CompletedTask;
    }

    [Fact]
    public async Task RunAsync_PrefetchAll_PrefetchListFirstThenEveryChunk()
    {
        var (reader, source, cache) = _image.NewReader(new LazyReaderOptions { PrefetchAll = true, MaxConcurrentPrefetches = 1 });
        using var _ = cache;
        var listed = PrefetchList.Where(_image.Files.ContainsKey).SelectMany(p => _image.Bootstrap.GetChunks(_image.Inode(p))).ToList();
        Assert.Equal(3, _image.Bootstrap.PrefetchInodes.Count);

        await new LazyPrefetcher(reader).RunAsync();

        // The requests until every listed chunk is fetched cover listed chunks only; the rest follow.
        var requests = source.Requests;
        int phase = 0;
        var seen = new HashSet<Digest>();
        while (seen.Count < listed.Count)
        {
            var covered = AllChunks().Where(c => requests[phase].Covers(c.Blob, c.CompressedOffset, c.CompressedSize)).ToList();
            Assert.NotEmpty(covered);
            Assert.All(covered, c => Assert.Contains(listed, l => l.ChunkDigest == c.ChunkDigest));
            seen.UnionWith(covered.Select(c => c.ChunkDigest));
            phase++;
        }

        Assert.True(requests.Count > phase);
        Assert.All(AllChunks(), c => Assert.True(cache.Contains(c.ChunkDigest)));
        Assert.Equal(_image.Bootstrap.ChunkCount, reader.Statistics.PrefetchedChunks);
        Assert.Equal(_image.Bootstrap.ChunkBytes, reader.Statistics.PrefetchedBytes);
        Assert.Equal("completed", reader.Statistics.PrefetchState);
        Assert.NotNull(reader.Statistics.PrefetchDuration);

        // Everything is local now: reads fetch nothing.
        int before = source.RangeCount;
        foreach (var (path, content) in _image.Files)
        {
            Assert.Equal(content, await FetchTestImage.ReadAllAsync(reader, _image.Inode(path)));
        }

        Assert.Equal(before, source.RangeCount);
        Assert.Equal(0, reader.Statistics.CacheMisses);
    }

    [Fact]
    public async Task RunAsync_PrefetchListOnly_FetchesJustTheListedFiles()
    {
        var (reader, _, cache) = _image.NewReader();
        using var _ = cache;

        await new LazyPrefetcher(reader).RunAsync();

        var listed = PrefetchList.Where(_image.Files.ContainsKey).SelectMany(p => _image.Bootstrap.GetChunks(_image.Inode(p))).Select(c => c.ChunkDigest).ToHashSet();
        Assert.Equal(listed.Count, cache.GetStatistics().Chunks);
        Assert.All(listed, d => Assert.True(cache.Contains(d)));
    }

    [Fact]
    public async Task RunAsync_Canceled_StopsRequestingAndThrows()
    {
        var (reader, source, cache) = _image.NewReader(new LazyReaderOptions { PrefetchAll = true, MaxConcurrentPrefetches = 1, MaxRequestBytes = 64 << 10 });
        using var _ = cache;
        using var cancel = new CancellationTokenSource();
        source.BeforeRange = async (_, ct) =>
        {
            if (source.RangeCount == 3)
            {
                await cancel.CancelAsync();
                await Task.Delay(Timeout.Infinite, ct);
            }
        };

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => new LazyPrefetcher(reader).RunAsync(cancel.Token));

        Assert.Equal(3, source.RangeCount);
        Assert.Equal("canceled", reader.Statistics.PrefetchState);
        Assert.True(cache.GetStatistics().Chunks < _image.Bootstrap.ChunkCount);

        // Nothing is left pending: readers fetch what the prefetch did not.
        source.BeforeRange = null;
        foreach (var (path, content) in _image.Files)
        {
            Assert.Equal(content, await FetchTestImage.ReadAllAsync(reader, _image.Inode(path)));
        }
    }

    [Fact]
    public async Task RunAsync_ReaderJoinsPrefetchThenPrefetchCanceled_ReaderFetchesItself()
    {
        var (reader, source, cache) = _image.NewReader();
        using var _ = cache;
        using var cancel = new CancellationTokenSource();
        source.BeforeRange = (_, ct) => source.RangeCount == 1 ? Task.Delay(Timeout.Infinite, ct) : Task.CompletedTask;
        ulong first = _image.Bootstrap.PrefetchInodes[0];
        var prefetch = new LazyPrefetcher(reader).RunAsync(cancel.Token);
        await LazyFileReaderTests.WaitUntilAsync(() => source.RangeCount == 1);

        var read = reader.ReadAsync(first, 0, new byte[100]).AsTask();
        await LazyFileReaderTests.WaitUntilAsync(() => reader.Statistics.ChunksJoined == 1);
        await cancel.CancelAsync();

        Assert.Equal(100, await read);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => prefetch);
    }

    [Fact]
    public async Task RunAsync_CorruptChunk_CountedSkippedRestFetched()
    {
        ChunkLocation bad = _image.Bootstrap.GetChunks(_image.Inode("/big/text.txt"))[1];
        string blob = _image.BlobPath(bad.Blob);
        byte[] bytes = File.ReadAllBytes(blob);
        bytes[bad.CompressedOffset + 20] ^= 0x04;
        File.WriteAllBytes(blob, bytes);
        var (reader, _, cache) = _image.NewReader(new LazyReaderOptions { PrefetchAll = true });
        using var _ = cache;

        await new LazyPrefetcher(reader).RunAsync();

        Assert.Equal(1, reader.Statistics.PrefetchErrors);
        Assert.Equal(1, reader.Statistics.ChunkErrors);
        Assert.Equal("completed", reader.Statistics.PrefetchState);
        Assert.Equal(_image.Bootstrap.ChunkCount - 1, cache.GetStatistics().Chunks);
        Assert.False(cache.Contains(bad.ChunkDigest));
    }

    private IEnumerable<ChunkLocation> AllChunks()
        => Enumerable.Range(0, _image.Bootstrap.ChunkCount).Select(i => _image.Bootstrap.GetChunk(i))
            .Select(c => new ChunkLocation(_image.Bootstrap.Blobs[c.BlobIndex].Digest, c.CompressedOffset, c.CompressedSize, 0, c.UncompressedSize, c.Digest));
}

using Accelerator.Chunks.Caching;
using Accelerator.Lazy.Format;
using Accelerator.Lazy.Reading;
using Accelerator.Lazy.Tests.Support;

namespace Accelerator.Lazy.Tests.Reading;

/// <summary>The image shared by the read-only tests of a class.</summary>
public sealed class FetchImageFixture : IAsyncLifetime
{
    internal FetchTestImage Image { get; private set; } = null!;

    public async Task InitializeAsync() => Image = await FetchTestImage.CreateInTempAsync();

    public Task DisposeAsync()
    {
        Image.Dispose();
        return Task.CompletedTask;
    }
}

public sealed class LazyFileReaderTests(FetchImageFixture fixture) : IClassFixture<FetchImageFixture>
{
    private FetchTestImage Image => fixture.Image;

    [Fact]
    public async Task ReadAsync_EveryFile_MatchesOriginalBytes()
    {
        var (reader, _, cache) = Image.NewReader();
        using var _ = cache;

        foreach (var (path, content) in Image.Files)
        {
            Assert.Equal(content, await FetchTestImage.ReadAllAsync(reader, Image.Inode(path), bufferSize: 50_000));
        }

        Assert.Equal(Image.Files.Values.Sum(f => (long)f.Length), reader.Statistics.Mount.BytesRead);
    }

    [Fact]
    public async Task ReadAsync_OneFile_FetchesOnlyItsChunks()
    {
        var (reader, source, cache) = Image.NewReader(new LazyReaderOptions { ReadAheadBytes = 0 });
        using var _ = cache;
        ulong inode = Image.Inode("/big/text.txt");
        IReadOnlyList<ChunkLocation> chunks = Image.Bootstrap.GetChunks(inode);

        byte[] content = await FetchTestImage.ReadAllAsync(reader, inode);

        Assert.Equal(Image.Files["/big/text.txt"], content);
        Assert.NotEmpty(source.Requests);
        long requested = source.Requests.Sum(r => r.Length);
        Assert.Equal(chunks.Sum(c => (long)c.CompressedSize), requested);
        Assert.All(source.Requests, r => Assert.Contains(chunks, c => r.Covers(c.Blob, c.CompressedOffset, c.CompressedSize)));
        Assert.Equal(chunks.Count, reader.Statistics.Mount.ChunksFetched);
        Assert.Equal(requested, reader.Statistics.Mount.BytesFetchedBySource["origin"]);
        Assert.Equal(chunks.Count, cache.GetStatistics().Chunks);
    }

    [Fact]
    public async Task ReadAsync_WholeMultiChunkFileInOneCall_OneMergedRequest()
    {
        var (reader, source, cache) = Image.NewReader(new LazyReaderOptions { ReadAheadBytes = 0 });
        using var _ = cache;
        byte[] original = Image.Files["/big/random.bin"];
        byte[] buffer = new byte[original.Length + 100];

        int n = await reader.ReadAsync(Image.Inode("/big/random.bin"), 0, buffer);

        Assert.Equal(original.Length, n);
        Assert.Equal(original, buffer[..n]);
        Assert.Equal(18, Image.Bootstrap.GetChunks(Image.Inode("/big/random.bin")).Count);
        Assert.Equal(1, source.RangeCount);
    }

    [Fact]
    public async Task ReadAsync_RequestsOverMaxRequestBytes_SplitAtTheBound()
    {
        var options = new LazyReaderOptions { ReadAheadBytes = 0, MaxRequestBytes = 200_000, MergeGapBytes = 0 };
        var (reader, source, cache) = Image.NewReader(options);
        using var _ = cache;
        byte[] original = Image.Files["/big/random.bin"];

        Assert.Equal(original, await FetchTestImage.ReadAllAsync(reader, Image.Inode("/big/random.bin"), bufferSize: original.Length));

        // 18 raw chunks of 64 KiB: three fit under 200,000 bytes, so six requests.
        Assert.All(source.Requests, r => Assert.True(r.Length <= 200_000));
        Assert.Equal(6, source.RangeCount);
    }

    [Fact]
    public async Task ReadAsync_ManySmallFilesInOrder_AdjacentChunksMergedByReadAhead()
    {
        var (reader, source, cache) = Image.NewReader(new LazyReaderOptions { ReadAheadBytes = 64 << 10 });
        using var _ = cache;
        var paths = Image.Files.Keys.Where(p => p.StartsWith("/small/", StringComparison.Ordinal)).Order(StringComparer.Ordinal).ToList();
        long stored = paths.SelectMany(p => Image.Bootstrap.GetChunks(Image.Inode(p))).Sum(c => (long)c.CompressedSize);

        foreach (string path in paths)
        {
            Assert.Equal(Image.Files[path], await FetchTestImage.ReadAllAsync(reader, Image.Inode(path)));
        }

        // 200 files, each one small chunk, packed in path order: a request takes along the next 64 KiB of them.
        Assert.InRange(source.RangeCount, 1, (int)(stored / (48 << 10)) + 2);
        Assert.True(reader.Statistics.ReadAheadChunks >= 150, $"read ahead {reader.Statistics.ReadAheadChunks}");
        Assert.Equal(200, reader.Statistics.Mount.ChunksFetched);
    }

    [Fact]
    public async Task ReadAsync_WithoutReadAhead_OneRequestPerSmallFile()
    {
        var (reader, source, cache) = Image.NewReader(new LazyReaderOptions { ReadAheadBytes = 0 });
        using var _ = cache;

        for (int i = 0; i < 20; i++)
        {
            await FetchTestImage.ReadAllAsync(reader, Image.Inode($"/small/f{i:D3}.txt"));
        }

        Assert.Equal(20, source.RangeCount);
    }

    [Fact]
    public async Task ReadAsync_Holes_ReadAsZeros()
    {
        var (reader, source, cache) = Image.NewReader();
        using var _ = cache;
        ulong middle = Image.Inode("/holes/middle.bin");
        Assert.Equal(3, Image.Bootstrap.GetChunks(middle).Count);
        Assert.Empty(Image.Bootstrap.GetChunks(Image.Inode("/holes/zeros.bin")));

        // Entirely inside the hole: zeros without a fetch.
        byte[] buffer = new byte[3 * FetchTestImage.ChunkSize];
        Array.Fill(buffer, (byte)0xAA);
        Assert.Equal(buffer.Length, await reader.ReadAsync(middle, FetchTestImage.ChunkSize, buffer));
        Assert.All(buffer, b => Assert.Equal(0, b));
        Assert.Equal(0, source.RangeCount);

        // An all-zero file has no chunks at all.
        Array.Fill(buffer, (byte)0xAA);
        Assert.Equal(buffer.Length, await reader.ReadAsync(Image.Inode("/holes/zeros.bin"), 0, buffer));
        Assert.All(buffer, b => Assert.Equal(0, b));
        Assert.Equal(0, source.RangeCount);

        // Spanning data, the hole and data again; and the trailing hole up to the end of the file.
        Assert.Equal(Image.Files["/holes/middle.bin"], await FetchTestImage.ReadAllAsync(reader, middle, bufferSize: 5 * FetchTestImage.ChunkSize));
        Assert.Equal(Image.Files["/holes/trailing.bin"], await FetchTestImage.ReadAllAsync(reader, Image.Inode("/holes/trailing.bin"), bufferSize: 1 << 20));
    }

    [Fact]
    public async Task ReadAsync_AtOrPastEnd_ReturnsZero()
    {
        var (reader, _, cache) = Image.NewReader();
        using var _ = cache;
        ulong inode = Image.Inode("/big/text.txt");
        int size = Image.Files["/big/text.txt"].Length;
        byte[] buffer = new byte[1000];

        Assert.Equal(0, await reader.ReadAsync(inode, size, buffer));
        Assert.Equal(0, await reader.ReadAsync(inode, size + 12345L, buffer));
        Assert.Equal(0, await reader.ReadAsync(Image.Inode("/empty"), 0, buffer));
        Assert.Equal(10, await reader.ReadAsync(inode, size - 10, buffer));
        Assert.Equal(Image.Files["/big/text.txt"][^10..], buffer[..10]);
        Assert.Equal(0, await reader.ReadAsync(inode, 0, Memory<byte>.Empty));
    }

    [Fact]
    public async Task ReadAsync_NotARegularFile_ArgumentException()
    {
        var (reader, _, cache) = Image.NewReader();
        using var _ = cache;
        byte[] buffer = new byte[10];

        await Assert.ThrowsAsync<ArgumentException>(async () => await reader.ReadAsync(Image.Inode("/big"), 0, buffer));
        await Assert.ThrowsAsync<ArgumentException>(async () => await reader.ReadAsync(Image.Inode("/link"), 0, buffer));
        await Assert.ThrowsAsync<ArgumentException>(async () => await reader.ReadAsync(999_999, 0, buffer));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(async () => await reader.ReadAsync(Image.Inode("/empty"), -1, buffer));
    }

    [Fact]
    public async Task ReadAsync_IdenticalFiles_ChunksFetchedOnce()
    {
        var (reader, source, cache) = Image.NewReader(new LazyReaderOptions { ReadAheadBytes = 0 });
        using var _ = cache;

        Assert.Equal(Image.Files["/dup/a.bin"], await FetchTestImage.ReadAllAsync(reader, Image.Inode("/dup/a.bin")));
        int requests = source.RangeCount;
        Assert.Equal(Image.Files["/dup/b.bin"], await FetchTestImage.ReadAllAsync(reader, Image.Inode("/dup/b.bin")));

        Assert.Equal(requests, source.RangeCount);
        Assert.True(reader.Statistics.CacheHits > 0);
    }

    [Fact]
    public async Task ReadAsync_TwentyParallelReadersOfRandomRanges_MatchOriginalExactly()
    {
        var (reader, _, cache) = Image.NewReader(new LazyReaderOptions { MaxConcurrentFetches = 4 });
        using var _ = cache;
        var files = Image.Files.Where(f => f.Value.Length > 0).Select(f => (Inode: Image.Inode(f.Key), f.Key, Content: f.Value)).ToArray();

        var readers = Enumerable.Range(0, 20).Select(seed => Task.Run(async () =>
        {
            var random = new Random(seed);
            for (int i = 0; i < 60; i++)
            {
                // Big files more often; ranges anywhere, across chunk boundaries, holes and the end of the file.
                var (inode, path, content) = random.Next(3) == 0 ? files[random.Next(files.Length)] : files[random.Next(Math.Min(6, files.Length))];
                long offset = random.Next(3) == 0 ? Math.Max(0, content.Length - random.Next(1, 3 * FetchTestImage.ChunkSize)) : random.NextInt64(0, content.Length + 10);
                byte[] buffer = new byte[random.Next(1, 3 * FetchTestImage.ChunkSize)];
                int n = await reader.ReadAsync(inode, offset, buffer);
                int expected = (int)Math.Max(0, Math.Min(buffer.Length, content.Length - offset));
                Assert.Equal(expected, n);
                Assert.True(content.AsSpan((int)Math.Min(offset, content.Length), n).SequenceEqual(buffer.AsSpan(0, n)), $"{path} at {offset}+{n}");
            }
        })).ToArray();

        await Task.WhenAll(readers);
        Assert.Equal(cache.GetStatistics().Stored, reader.Statistics.Mount.ChunksFetched);
    }

    [Fact]
    public async Task ReadAsync_TwentyConcurrentReadersOfOneChunk_OneFetch()
    {
        var (reader, source, cache) = Image.NewReader();
        using var _ = cache;
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        source.BeforeRange = (_, ct) => release.Task.WaitAsync(ct);
        ulong inode = Image.Inode("/big/random.bin");

        var reads = Enumerable.Range(0, 20).Select(i => Task.Run(async () =>
        {
            byte[] buffer = new byte[1000];
            int n = await reader.ReadAsync(inode, 5000 + (i * 100), buffer);
            return (Offset: 5000 + (i * 100), Bytes: buffer[..n]);
        })).ToArray();
        await WaitUntilAsync(() => reader.Statistics.ChunksJoined == 19 && source.RangeCount == 1);
        release.SetResult();
        var results = await Task.WhenAll(reads);

        Assert.Equal(1, source.RangeCount);
        Assert.Equal(1, reader.Statistics.Mount.ChunksFetched);
        Assert.All(results, r => Assert.Equal(Image.Files["/big/random.bin"].AsSpan(r.Offset, 1000).ToArray(), r.Bytes));
    }

    [Fact]
    public async Task ReadAsync_FetchFails_AllWaitersFailAndALaterReadRetries()
    {
        var (reader, source, cache) = Image.NewReader(new LazyReaderOptions { ReadAheadBytes = 0 });
        using var _ = cache;
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        source.BeforeRange = async (_, ct) =>
        {
            await release.Task.WaitAsync(ct);
            throw new HttpRequestException("connection reset by peer");
        };
        ulong inode = Image.Inode("/big/text.txt");

        var reads = Enumerable.Range(0, 5).Select(_ => Task.Run(async () => await reader.ReadAsync(inode, 0, new byte[100]))).ToArray();
        await WaitUntilAsync(() => reader.Statistics.ChunksJoined == 4);
        release.SetResult();

        foreach (var read in reads)
        {
            await Assert.ThrowsAsync<HttpRequestException>(async () => await read);
        }

        Assert.Equal(1, source.RangeCount);
        Assert.Equal(0, cache.GetStatistics().Chunks);
        source.BeforeRange = null;
        byte[] buffer = new byte[100];
        Assert.Equal(100, await reader.ReadAsync(inode, 0, buffer));
        Assert.Equal(Image.Files["/big/text.txt"][..100], buffer);
        Assert.Equal(2, source.RangeCount);
    }

    [Fact]
    public async Task ReadAsync_OwnerCanceled_JoinedReaderFetchesItself()
    {
        var (reader, source, cache) = Image.NewReader();
        using var _ = cache;
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        source.BeforeRange = (_, ct) => source.RangeCount == 1 ? release.Task.WaitAsync(ct) : Task.CompletedTask;
        ulong inode = Image.Inode("/big/random.bin");
        using var cancel = new CancellationTokenSource();

        var owner = reader.ReadAsync(inode, 0, new byte[100], cancel.Token).AsTask();
        await WaitUntilAsync(() => source.RangeCount == 1);
        var joined = Task.Run(async () =>
        {
            byte[] buffer = new byte[100];
            await reader.ReadAsync(inode, 0, buffer);
            return buffer;
        });
        await WaitUntilAsync(() => reader.Statistics.ChunksJoined == 1);
        cancel.Cancel();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => owner);
        Assert.Equal(Image.Files["/big/random.bin"][..100], await joined);
        Assert.Equal(2, source.RangeCount);
    }

    internal static async Task WaitUntilAsync(Func<bool> condition)
    {
        // Waits for a state the test drives toward; the limit only turns a hang into a failure.
        using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (!condition())
        {
            await Task.Delay(5, limit.Token);
        }
    }
}

public sealed class LazyFileReaderTimeoutTests(FetchImageFixture fixture) : IClassFixture<FetchImageFixture>
{
    [Fact]
    public async Task ReadAsync_SourceHangs_TimeoutExceptionAndLaterReadRetries()
    {
        var image = fixture.Image;
        var (reader, source, cache) = image.NewReader(new LazyReaderOptions { RequestTimeout = TimeSpan.FromMilliseconds(100) });
        using var _ = cache;
        source.BeforeRange = (_, ct) => Task.Delay(Timeout.Infinite, ct);
        ulong inode = image.Inode("/big/text.txt");

        var waiter = Task.Run(async () => await reader.ReadAsync(inode, 0, new byte[10]));
        await Assert.ThrowsAsync<TimeoutException>(async () => await reader.ReadAsync(inode, 0, new byte[10]));
        await Assert.ThrowsAsync<TimeoutException>(() => waiter);

        source.BeforeRange = null;
        byte[] buffer = new byte[10];
        Assert.Equal(10, await reader.ReadAsync(inode, 0, buffer));
        Assert.Equal(image.Files["/big/text.txt"][..10], buffer);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-5)]
    public void Constructor_NonPositiveTimeout_ArgumentOutOfRange(int milliseconds)
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => fixture.Image.NewReader(new LazyReaderOptions { RequestTimeout = TimeSpan.FromMilliseconds(milliseconds) }));
    }
}

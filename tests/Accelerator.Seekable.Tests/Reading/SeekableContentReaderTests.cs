using Accelerator.Chunks.Caching;
using Accelerator.Seekable.Reading;
using Accelerator.Testing.Tar;

namespace Accelerator.Seekable.Tests.Reading;

/// <summary>
/// <see cref="SeekableContentReader"/> over real tars indexed in the identity test format: only the units holding a
/// file are fetched, changed bytes are never served nor cached, readers share fetches, a hung source times out.
/// </summary>
public sealed class SeekableContentReaderTests : IDisposable
{
    private const int UnitSize = 4096;
    private readonly string _directory = Directory.CreateTempSubdirectory("accel-seekable-reader-").FullName;
    private readonly ChunkCache _cache;
    private readonly RecordingBlobSource _source = new();
    private readonly CountingObserver _observer = new();

    public SeekableContentReaderTests() => _cache = ChunkCache.Open(new ChunkCacheOptions { Directory = Path.Combine(_directory, "cache") });

    public void Dispose()
    {
        _cache.Dispose();
        Directory.Delete(_directory, recursive: true);
    }

    [Fact]
    public async Task ReadAsync_OneFile_FetchesOnlyTheUnitsHoldingIt()
    {
        byte[] big = Bytes(5 * UnitSize, seed: 1);
        var (reader, forest, tar) = Open(new TarBuilder().AddFile("before", Bytes(3 * UnitSize, 2)).AddFile("big", big).AddFile("after", Bytes(3 * UnitSize, 3)), new SeekableReaderOptions { ReadAheadBytes = 0 });
        ulong inode = forest.FindPath(0, "/big")!.Value;
        var entry = forest.FileOf(inode)!.Value.Entry;

        byte[] read = await ReadAllAsync(reader, inode, big.Length);

        Assert.Equal(big, read);
        long firstUnit = entry.DataOffset / UnitSize * UnitSize;
        long lastEnd = Math.Min(tar.Length, (entry.DataOffset + big.Length + UnitSize - 1) / UnitSize * UnitSize);
        Assert.All(_source.Ranges, r => Assert.True(r.Offset >= firstUnit && r.Offset + r.Length <= lastEnd, $"{r} outside [{firstUnit}, {lastEnd})"));
        Assert.Equal(lastEnd - firstUnit, _source.Ranges.Sum(r => r.Length));
        Assert.Equal(big.Length, _observer.BytesRead);
    }

    [Fact]
    public async Task ReadAsync_FileAcrossAdjacentUnits_OneMergedRequest()
    {
        byte[] content = Bytes(6 * UnitSize, seed: 4);
        var (reader, forest, _) = Open(new TarBuilder().AddFile("f", content));
        ulong inode = forest.FindPath(0, "/f")!.Value;

        byte[] buffer = new byte[content.Length];
        int read = await reader.ReadAsync(inode, 0, buffer, CancellationToken.None);

        Assert.Equal(content.Length, read);
        Assert.Equal(content, buffer);
        Assert.Single(_source.Ranges);
        Assert.True(_observer.FetchedUnits >= 6);
    }

    [Fact]
    public async Task ReadAsync_RequestBound_SplitsRequests()
    {
        byte[] content = Bytes(6 * UnitSize, seed: 5);
        var (reader, forest, _) = Open(new TarBuilder().AddFile("f", content), new SeekableReaderOptions { MaxRequestBytes = 2 * UnitSize, ReadAheadBytes = 0 });
        ulong inode = forest.FindPath(0, "/f")!.Value;

        Assert.Equal(content, await ReadAllAsync(reader, inode, content.Length));
        Assert.All(_source.Ranges, r => Assert.True(r.Length <= 2 * UnitSize));
        Assert.True(_source.Ranges.Count >= 3);
    }

    [Fact]
    public async Task ReadAsync_SecondRead_ServedFromTheCache()
    {
        byte[] content = Bytes(2 * UnitSize, seed: 6);
        var (reader, forest, _) = Open(new TarBuilder().AddFile("f", content));
        ulong inode = forest.FindPath(0, "/f")!.Value;
        await ReadAllAsync(reader, inode, content.Length);
        int requests = _source.Ranges.Count;

        Assert.Equal(content, await ReadAllAsync(reader, inode, content.Length));
        Assert.Equal(requests, _source.Ranges.Count);
        Assert.True(_observer.CacheHits > 0);
    }

    [Fact]
    public async Task ReadAsync_ChangedUnitBytes_FailsCachesNothingAndFetchesAgainAfterRestore()
    {
        byte[] content = Bytes(3 * UnitSize, seed: 7);
        var (reader, forest, tar) = Open(new TarBuilder().AddFile("f", content));
        ulong inode = forest.FindPath(0, "/f")!.Value;
        var layer = forest.Layers[0];
        byte[] changed = (byte[])tar.Clone();
        long offset = forest.FileOf(inode)!.Value.Entry.DataOffset + UnitSize;
        changed[offset] ^= 0xFF;
        _source.Replace(layer.Layer.Digest, changed);

        var error = await Assert.ThrowsAsync<InvalidDataException>(() => ReadAllAsync(reader, inode, content.Length));

        Assert.Contains(layer.Layer.Digest.ToString(), error.Message, StringComparison.Ordinal);
        var bad = layer.Units[layer.FindUnit(offset)];
        Assert.Contains(bad.Digest.ToString(), error.Message, StringComparison.Ordinal);
        Assert.False(_cache.Contains(bad.Digest));
        Assert.False(File.Exists(_cache.GetChunkPath(bad.Digest)));
        Assert.Equal(1, _observer.VerificationFailures);
        int requests = _source.Ranges.Count;

        _source.Replace(layer.Layer.Digest, tar);
        Assert.Equal(content, await ReadAllAsync(reader, inode, content.Length));
        Assert.True(_source.Ranges.Count > requests);
        Assert.True(_cache.Contains(bad.Digest));
    }

    [Fact]
    public async Task ReadAsync_ConcurrentReaders_ShareOneFetch()
    {
        byte[] content = Bytes(3 * UnitSize, seed: 8);
        var (reader, forest, _) = Open(new TarBuilder().AddFile("f", content));
        ulong inode = forest.FindPath(0, "/f")!.Value;
        _source.HoldRequests();

        var first = ReadAllAsync(reader, inode, content.Length);
        await _source.RequestStarted.Task;
        var others = Enumerable.Range(0, 7).Select(_ => ReadAllAsync(reader, inode, content.Length)).ToList();
        _source.Release();

        Assert.Equal(content, await first);
        foreach (var other in others)
        {
            Assert.Equal(content, await other);
        }

        Assert.Single(_source.Ranges);
    }

    [Fact]
    public async Task ReadAsync_OwnerOfTheFetchInterrupted_WaitingReaderFetchesItself()
    {
        byte[] content = Bytes(2 * UnitSize, seed: 18);
        var (reader, forest, _) = Open(new TarBuilder().AddFile("f", content));
        ulong inode = forest.FindPath(0, "/f")!.Value;
        _source.HoldRequests();
        using var interrupt = new CancellationTokenSource();

        var owner = reader.ReadAsync(inode, 0, new byte[content.Length], interrupt.Token).AsTask();
        await _source.RequestStarted.Task;
        var waiter = ReadAllAsync(reader, inode, content.Length);
        interrupt.Cancel();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => owner);
        _source.Release();
        Assert.Equal(content, await waiter);
        Assert.Equal(2, _source.Ranges.Count);
    }

    [Fact]
    public async Task ReadAsync_HungSource_TimesOutNamingTheSource()
    {
        var (reader, forest, _) = Open(new TarBuilder().AddFile("f", Bytes(UnitSize, 9)), new SeekableReaderOptions { RequestTimeout = TimeSpan.FromMilliseconds(200), SourceName = "registry.test" });
        _source.Hang = true;

        var error = await Assert.ThrowsAsync<TimeoutException>(() => ReadAllAsync(reader, forest.FindPath(0, "/f")!.Value, UnitSize));

        Assert.Contains("registry.test", error.Message, StringComparison.Ordinal);
        Assert.Contains("unreachable", error.Message, StringComparison.Ordinal);
        Assert.False(_cache.Contains(forest.Layers[0].Units[0].Digest));
    }

    [Fact]
    public async Task ReadAsync_SmallRead_TakesTheNextUnitAlong()
    {
        var (reader, forest, _) = Open(new TarBuilder().AddFile("a", Bytes(100, 10)).AddFile("b", Bytes(9000, 11)).AddFile("c", Bytes(9000, 12)),
            new SeekableReaderOptions { ReadAheadBytes = 4 * UnitSize });
        ulong a = forest.FindPath(0, "/a")!.Value;
        ulong b = forest.FindPath(0, "/b")!.Value;

        await ReadAllAsync(reader, a, 100);
        int requests = _source.Ranges.Count;
        Assert.Equal(100, await reader.ReadAsync(b, 8000, new byte[100], CancellationToken.None));

        Assert.Equal(1, requests);
        Assert.Equal(requests, _source.Ranges.Count);
    }

    [Fact]
    public async Task PrefetchAsync_Files_FetchesTheirUnitsAndReadsHitTheCache()
    {
        byte[] content = Bytes(4 * UnitSize, seed: 13);
        var (reader, forest, _) = Open(new TarBuilder().AddFile("f", content).AddFile("g", Bytes(UnitSize, 14)));
        ulong inode = forest.FindPath(0, "/f")!.Value;

        int fetched = await reader.PrefetchAsync([inode, forest.FindPath(0, "/")!.Value], CancellationToken.None);
        int requests = _source.Ranges.Count;

        Assert.True(fetched >= 4);
        Assert.Equal(content, await ReadAllAsync(reader, inode, content.Length));
        Assert.Equal(requests, _source.Ranges.Count);
    }

    [Fact]
    public async Task PrefetchAsync_BrokenSource_DoesNotThrow()
    {
        var (reader, forest, tar) = Open(new TarBuilder().AddFile("f", Bytes(UnitSize, 15)));
        _source.Replace(forest.Layers[0].Layer.Digest, new byte[tar.Length]);

        Assert.Equal(0, await reader.PrefetchAsync([forest.FindPath(0, "/f")!.Value], CancellationToken.None));
    }

    [Fact]
    public async Task Prime_VerifiedUnits_ServedWithoutFetching()
    {
        byte[] content = Bytes(2 * UnitSize, seed: 16);
        var (reader, forest, tar) = Open(new TarBuilder().AddFile("f", content));
        foreach (var unit in forest.Layers[0].Units)
        {
            reader.Prime(0, unit, tar.AsSpan((int)unit.DataOffset, unit.DataLength));
        }

        Assert.Equal(content, await ReadAllAsync(reader, forest.FindPath(0, "/f")!.Value, content.Length));
        Assert.Empty(_source.Ranges);
    }

    [Fact]
    public void Prime_WrongBytes_ThrowsAndStoresNothing()
    {
        var (reader, forest, _) = Open(new TarBuilder().AddFile("f", Bytes(UnitSize, 17)));
        var unit = forest.Layers[0].Units[0];

        Assert.Throws<InvalidDataException>(() => reader.Prime(0, unit, new byte[unit.DataLength]));
        Assert.False(_cache.Contains(unit.Digest));
    }

    [Fact]
    public void Constructor_InvalidOptions_Throws()
    {
        var forest = SeekableForestTests.Forest(new TarBuilder().AddFile("f", "x"));
        var blobs = new[] { ((IBlobSource)_source, new BlobAddress("repo", forest.Layers[0].Layer.Digest)) };

        Assert.Throws<ArgumentOutOfRangeException>(() => new SeekableContentReader(forest, blobs, _cache, new SeekableReaderOptions { MaxParallelRequests = 0 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => new SeekableContentReader(forest, blobs, _cache, new SeekableReaderOptions { RequestTimeout = TimeSpan.Zero }));
        Assert.Throws<ArgumentOutOfRangeException>(() => new SeekableContentReader(forest, blobs, _cache, new SeekableReaderOptions { SourceName = " " }));
        Assert.Throws<ArgumentException>(() => new SeekableContentReader(forest, [], _cache, new SeekableReaderOptions()));
    }

    private (SeekableContentReader Reader, SeekableForest Forest, byte[] Tar) Open(TarBuilder tar, SeekableReaderOptions? options = null)
    {
        byte[] bytes = tar.ToArray();
        var index = IdentityLayerIndex.Build(bytes, UnitSize);
        _source.Add(bytes);
        var forest = new SeekableForest([index]);
        var reader = new SeekableContentReader(forest, [(_source, new BlobAddress("repo", index.Layer.Digest, index.Layer.Size))], _cache, options ?? new SeekableReaderOptions(), _observer);
        return (reader, forest, bytes);
    }

    private static async Task<byte[]> ReadAllAsync(SeekableContentReader reader, ulong inode, int length)
    {
        byte[] buffer = new byte[length];
        int total = 0;
        while (total < length)
        {
            // FUSE-sized reads.
            int read = await reader.ReadAsync(inode, total, buffer.AsMemory(total, Math.Min(128 << 10, length - total)), CancellationToken.None);
            Assert.True(read > 0);
            total += read;
        }

        return buffer;
    }

    internal static byte[] Bytes(int length, int seed)
    {
        byte[] bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }
}

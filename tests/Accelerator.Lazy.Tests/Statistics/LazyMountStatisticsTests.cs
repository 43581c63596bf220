using System.Text.Json;
using Accelerator.Lazy.Prefetch;
using Accelerator.Lazy.Reading;
using Accelerator.Lazy.Statistics;
using Accelerator.Lazy.Tests.Reading;
using Accelerator.Lazy.Tests.Support;
using Accelerator.Testing;
using Accelerator.Testing.Conformance;

namespace Accelerator.Lazy.Tests.Statistics;

public sealed class LazyMountStatisticsTests(FetchImageFixture fixture) : IClassFixture<FetchImageFixture>
{
    [Fact]
    public async Task WriteJson_AfterReadsAndPrefetch_HasEveryField()
    {
        var image = fixture.Image;
        var statistics = new LazyMountStatistics();
        var (reader, _, cache) = image.NewReader(new LazyReaderOptions { PrefetchAll = true }, statistics: statistics);
        using var _ = cache;
        byte[] text = await FetchTestImage.ReadAllAsync(reader, image.Inode("/big/text.txt"));
        await FetchTestImage.ReadAllAsync(reader, image.Inode("/big/text.txt"));
        await new LazyPrefetcher(reader).RunAsync();
        statistics.Mount.TimeToReady = TimeSpan.FromMilliseconds(1234.5);
        statistics.Mount.Fallbacks.Add((Strategy.Cache, "no snapshot"));
        string path = Path.Combine(image.Directory, "stats.json");

        statistics.WriteJsonFile(path);

        using var json = JsonDocument.Parse(File.ReadAllBytes(path));
        JsonElement root = json.RootElement;
        Assert.Equal("lazy", root.GetProperty("strategy").GetString());
        Assert.Equal(1.2345, root.GetProperty("timeToReadySeconds").GetDouble());
        long origin = root.GetProperty("bytesFetchedBySource").GetProperty("origin").GetInt64();
        Assert.Equal(statistics.Mount.BytesFetched, origin);
        Assert.Equal(origin, root.GetProperty("bytesFetched").GetInt64());
        Assert.Equal(2L * text.Length, root.GetProperty("bytesRead").GetInt64());
        Assert.Equal(image.Bootstrap.ChunkCount, root.GetProperty("chunksFetched").GetInt64());
        Assert.Equal("cache", root.GetProperty("fallbacks")[0].GetProperty("strategy").GetString());
        Assert.Equal("no snapshot", root.GetProperty("fallbacks")[0].GetProperty("reason").GetString());
        JsonElement lazy = root.GetProperty("lazy");
        Assert.Equal(statistics.RangeRequests, lazy.GetProperty("rangeRequests").GetInt64());
        Assert.True(lazy.GetProperty("cacheHits").GetInt64() > 0);
        Assert.True(lazy.GetProperty("cacheMisses").GetInt64() > 0);
        foreach (string name in new[] { "bytesRequested", "chunksJoined", "chunksFromDisk", "chunkErrors", "readAheadChunks" })
        {
            Assert.Equal(JsonValueKind.Number, lazy.GetProperty(name).ValueKind);
        }

        JsonElement prefetch = lazy.GetProperty("prefetch");
        Assert.Equal("completed", prefetch.GetProperty("state").GetString());
        Assert.Equal(statistics.PrefetchedChunks, prefetch.GetProperty("chunks").GetInt64());
        Assert.True(prefetch.GetProperty("bytes").GetInt64() > 0);
        Assert.True(prefetch.GetProperty("durationSeconds").GetDouble() >= 0);
        JsonElement cacheJson = lazy.GetProperty("cache");
        Assert.Equal(cache.Directory, cacheJson.GetProperty("directory").GetString());
        Assert.Equal(image.Bootstrap.ChunkCount, cacheJson.GetProperty("chunks").GetInt32());
        Assert.Equal(cache.GetStatistics().Bytes, cacheJson.GetProperty("bytes").GetInt64());
        Assert.Empty(Directory.EnumerateFiles(image.Directory, "*.tmp"));
    }

    [Fact]
    public void WriteJson_NothingHappened_ZerosAndNulls()
    {
        using var stream = new MemoryStream();

        new LazyMountStatistics().WriteJson(stream);

        using var json = JsonDocument.Parse(stream.ToArray());
        Assert.Equal(0, json.RootElement.GetProperty("bytesFetched").GetInt64());
        Assert.Empty(json.RootElement.GetProperty("bytesFetchedBySource").EnumerateObject());
        Assert.Equal("none", json.RootElement.GetProperty("lazy").GetProperty("prefetch").GetProperty("state").GetString());
        Assert.Equal(JsonValueKind.Null, json.RootElement.GetProperty("lazy").GetProperty("prefetch").GetProperty("durationSeconds").ValueKind);
        Assert.False(json.RootElement.GetProperty("lazy").TryGetProperty("cache", out _));
    }
}

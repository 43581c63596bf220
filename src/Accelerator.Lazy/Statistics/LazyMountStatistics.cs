using System.Globalization;
using System.Text.Json;
using Accelerator.Chunks.Caching;

namespace Accelerator.Lazy.Statistics;

/// <summary>
/// What a lazy mount fetched and served: the common <see cref="MountStatistics"/> (bytes fetched per source, bytes read
/// by processes, chunks fetched, time until ready) plus the fetch path's own counters (requests, cache hits and misses,
/// prefetch). <see cref="WriteJson"/> writes them for <c>accel mount --stats-json FILE</c>.
/// </summary>
/// <remarks>Thread-safe: counters are updated with interlocked operations.</remarks>
public sealed class LazyMountStatistics
{
    private long _rangeRequests;
    private long _bytesRequested;
    private long _cacheHits;
    private long _cacheMisses;
    private long _chunksJoined;
    private long _chunksFromDisk;
    private long _chunkErrors;
    private long _readAheadChunks;
    private long _prefetchedChunks;
    private long _prefetchedBytes;
    private long _prefetchErrors;
    private long _prefetchTicks = -1;
    private int _prefetchState;

    /// <summary>Creates statistics that also feed <paramref name="mount"/> (a new one for <see cref="Strategy.Lazy"/> when null).</summary>
    public LazyMountStatistics(MountStatistics? mount = null)
    {
        Mount = mount ?? new MountStatistics { Strategy = Strategy.Lazy };
    }

    /// <summary>The common statistics every mount reports; bytes fetched per source, bytes read and chunks fetched are recorded here.</summary>
    public MountStatistics Mount { get; }

    /// <summary>The chunk cache to describe in <see cref="WriteJson"/>, if any.</summary>
    public ChunkCache? Cache { get; set; }

    /// <summary>
    /// What the lazy mount serves: <c>converted</c> (an image converted with <c>accel convert --format lazy</c>) or
    /// <c>seekable</c> (the original layers, through a seekable index, eStargz or zstd:chunked TOCs).
    /// Kept in <see cref="MountStatistics.Source"/> of <see cref="Mount"/>. <value>Default: <c>converted</c>.</value>
    /// </summary>
    public string Source
    {
        get => Mount.Source ?? MountStatistics.ConvertedSource;
        set => Mount.Source = value;
    }

    /// <summary>For a seekable mount: how the index artifact was found, or why none was (null otherwise).</summary>
    public string? IndexDescription { get; set; }

    /// <summary>For a seekable mount: the index artifact's manifest digest, or null when there is none.</summary>
    public Digest? IndexArtifact { get; set; }

    /// <summary>For a seekable mount: each layer's format and what it fetched, bottom layer first (empty otherwise).</summary>
    public IReadOnlyList<LazyLayerStatistics> Layers { get; set; } = [];

    /// <summary>For a seekable mount with <c>--verify-index</c>: <c>none</c>, <c>running</c>, <c>verified</c> or the failure.</summary>
    public string? IndexVerification { get; set; }

    /// <summary>Ranged requests made (each fetches one or more chunks).</summary>
    public long RangeRequests => Interlocked.Read(ref _rangeRequests);

    /// <summary>Bytes asked for by the ranged requests (the chunks and the gaps merged between them).</summary>
    public long BytesRequested => Interlocked.Read(ref _bytesRequested);

    /// <summary>Chunks readers found ready in the cache.</summary>
    public long CacheHits => Interlocked.Read(ref _cacheHits);

    /// <summary>Chunks readers needed that were not ready (fetched, joined or loaded from disk).</summary>
    public long CacheMisses => Interlocked.Read(ref _cacheMisses);

    /// <summary>Chunks readers needed that another reader or the prefetcher was already fetching (one fetch served both).</summary>
    public long ChunksJoined => Interlocked.Read(ref _chunksJoined);

    /// <summary>Chunks readers needed that were found in the cache directory (an earlier run) and verified.</summary>
    public long ChunksFromDisk => Interlocked.Read(ref _chunksFromDisk);

    /// <summary>Chunks whose fetched bytes were not a valid chunk or did not match its digest (never served, never cached).</summary>
    public long ChunkErrors => Interlocked.Read(ref _chunkErrors);

    /// <summary>Chunks fetched ahead of a reader, with its request (<see cref="Reading.LazyReaderOptions.ReadAheadBytes"/>).</summary>
    public long ReadAheadChunks => Interlocked.Read(ref _readAheadChunks);

    /// <summary>Chunks the background prefetch fetched (or verified from disk).</summary>
    public long PrefetchedChunks => Interlocked.Read(ref _prefetchedChunks);

    /// <summary>The stored bytes of <see cref="PrefetchedChunks"/>.</summary>
    public long PrefetchedBytes => Interlocked.Read(ref _prefetchedBytes);

    /// <summary>Chunks the prefetch could not fetch (they stay absent; a reader tries again).</summary>
    public long PrefetchErrors => Interlocked.Read(ref _prefetchErrors);

    /// <summary>How the prefetch went: <c>none</c> (not started), <c>running</c>, <c>completed</c>, <c>canceled</c> or <c>failed</c>.</summary>
    public string PrefetchState => Volatile.Read(ref _prefetchState) switch
    {
        1 => "running",
        2 => "completed",
        3 => "canceled",
        4 => "failed",
        _ => "none",
    };

    /// <summary>How long the prefetch ran, once it ended.</summary>
    public TimeSpan? PrefetchDuration => Interlocked.Read(ref _prefetchTicks) is var ticks and >= 0 ? TimeSpan.FromTicks(ticks) : null;

    internal void AddRequest(long bytes)
    {
        Interlocked.Increment(ref _rangeRequests);
        Interlocked.Add(ref _bytesRequested, bytes);
    }

    internal void AddHit() => Interlocked.Increment(ref _cacheHits);

    internal void AddMiss() => Interlocked.Increment(ref _cacheMisses);

    internal void AddJoined() => Interlocked.Increment(ref _chunksJoined);

    internal void AddFromDisk() => Interlocked.Increment(ref _chunksFromDisk);

    internal void AddChunkError() => Interlocked.Increment(ref _chunkErrors);

    internal void AddReadAhead() => Interlocked.Increment(ref _readAheadChunks);

    internal void AddPrefetched(long storedBytes)
    {
        Interlocked.Increment(ref _prefetchedChunks);
        Interlocked.Add(ref _prefetchedBytes, storedBytes);
    }

    internal void AddPrefetchError() => Interlocked.Increment(ref _prefetchErrors);

    internal void PrefetchStarted() => Volatile.Write(ref _prefetchState, 1);

    internal void PrefetchEnded(string state, TimeSpan duration)
    {
        Interlocked.Exchange(ref _prefetchTicks, duration.Ticks);
        Volatile.Write(ref _prefetchState, state switch { "completed" => 2, "canceled" => 3, _ => 4 });
    }

    /// <summary>
    /// Writes the statistics as one JSON object (UTF-8, indented): the common fields of every mount —
    /// <c>strategy</c>, <c>timeToReadySeconds</c>, <c>bytesFetched</c>, <c>bytesFetchedBySource</c> (source name to
    /// bytes), <c>bytesRead</c>, <c>chunksFetched</c>, <c>fallbacks</c> — and a <c>lazy</c> object with the fetch
    /// path's counters, the lazy <c>source</c> (<c>converted</c> or <c>seekable</c>; a seekable mount adds <c>index</c> —
    /// how its artifact was found, its digest, the <c>--verify-index</c> outcome — and <c>layers</c>, each with its
    /// format, source and bytes fetched), the <c>prefetch</c> and, when <see cref="Cache"/> is set, the <c>cache</c>.
    /// </summary>
    public void WriteJson(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        using var json = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true });
        json.WriteStartObject();
        MountStatistics mount = Mount;
        json.WriteString("strategy", mount.Strategy.ToString().ToLowerInvariant());
        json.WriteNumber("timeToReadySeconds", Math.Round(mount.TimeToReady.TotalSeconds, 6));
        json.WriteNumber("bytesFetched", mount.BytesFetched);
        json.WriteStartObject("bytesFetchedBySource");
        foreach (var (source, bytes) in mount.BytesFetchedBySource.OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            json.WriteNumber(source, bytes);
        }

        json.WriteEndObject();
        json.WriteNumber("bytesRead", mount.BytesRead);
        json.WriteNumber("chunksFetched", mount.ChunksFetched);
        json.WriteStartArray("fallbacks");
        foreach (var (strategy, reason) in mount.Fallbacks)
        {
            json.WriteStartObject();
            json.WriteString("strategy", strategy.ToString().ToLowerInvariant());
            json.WriteString("reason", reason);
            json.WriteEndObject();
        }

        json.WriteEndArray();

        json.WriteStartObject("lazy");
        json.WriteString("source", Source);
        if (IndexDescription is not null)
        {
            json.WriteStartObject("index");
            json.WriteString("found", IndexDescription);
            json.WriteString("artifact", IndexArtifact?.ToString());
            json.WriteString("verification", IndexVerification);
            json.WriteEndObject();
        }

        if (Layers.Count > 0)
        {
            json.WriteStartArray("layers");
            foreach (LazyLayerStatistics layer in Layers)
            {
                json.WriteStartObject();
                json.WriteNumber("layer", layer.Layer);
                json.WriteString("digest", layer.Digest.ToString());
                json.WriteNumber("size", layer.Size);
                json.WriteString("format", layer.Format);
                json.WriteString("source", layer.Source);
                json.WriteNumber("bytesFetched", layer.BytesFetched);
                json.WriteNumber("rangeRequests", layer.RangeRequests);
                json.WriteNumber("wholeReads", layer.WholeReads);
                json.WriteNumber("unitErrors", layer.UnitErrors);
                json.WriteEndObject();
            }

            json.WriteEndArray();
        }

        json.WriteNumber("rangeRequests", RangeRequests);
        json.WriteNumber("bytesRequested", BytesRequested);
        json.WriteNumber("cacheHits", CacheHits);
        json.WriteNumber("cacheMisses", CacheMisses);
        json.WriteNumber("chunksJoined", ChunksJoined);
        json.WriteNumber("chunksFromDisk", ChunksFromDisk);
        json.WriteNumber("chunkErrors", ChunkErrors);
        json.WriteNumber("readAheadChunks", ReadAheadChunks);
        json.WriteStartObject("prefetch");
        json.WriteString("state", PrefetchState);
        json.WriteNumber("chunks", PrefetchedChunks);
        json.WriteNumber("bytes", PrefetchedBytes);
        json.WriteNumber("errors", PrefetchErrors);
        if (PrefetchDuration is { } duration)
        {
            json.WriteNumber("durationSeconds", Math.Round(duration.TotalSeconds, 6));
        }
        else
        {
            json.WriteNull("durationSeconds");
        }

        json.WriteEndObject();
        if (Cache is { } cache)
        {
            ChunkCacheStatistics c = cache.GetStatistics();
            json.WriteStartObject("cache");
            json.WriteString("directory", cache.Directory);
            json.WriteNumber("maxBytes", cache.Options.MaxCacheBytes);
            json.WriteNumber("chunks", c.Chunks);
            json.WriteNumber("bytes", c.Bytes);
            json.WriteNumber("hits", c.Hits);
            json.WriteNumber("waits", c.Waits);
            json.WriteNumber("misses", c.Misses);
            json.WriteNumber("loadedFromDisk", c.LoadedFromDisk);
            json.WriteNumber("stored", c.Stored);
            json.WriteNumber("corruptFiles", c.CorruptFiles);
            json.WriteNumber("evictions", c.Evictions);
            json.WriteNumber("evictedBytes", c.EvictedBytes);
            json.WriteNumber("storeFailures", c.StoreFailures);
            json.WriteEndObject();
        }

        json.WriteEndObject();
        json.WriteEndObject();
    }

    /// <summary>Writes <see cref="WriteJson"/>'s output to <paramref name="path"/>, replacing it atomically (temporary file, then rename).</summary>
    public void WriteJsonFile(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        string full = Path.GetFullPath(path);
        string temporary = full + "." + Guid.NewGuid().ToString("N", CultureInfo.InvariantCulture)[..8] + ".tmp";
        try
        {
            using (var file = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write))
            {
                WriteJson(file);
            }

            File.Move(temporary, full, overwrite: true);
        }
        catch
        {
            File.Delete(temporary);
            throw;
        }
    }
}

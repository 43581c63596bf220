namespace Accelerator.Block.Caching;

/// <summary>Counters of a block stack's reads and fetches. Thread-safe.</summary>
public sealed class BlockStackStatistics
{
    private long _bytesRead;
    private long _reads;
    private long _hits;
    private long _joined;
    private long _fetchedBlocks;
    private long _fetchedBytes;
    private long _requests;
    private long _requestedBytes;
    private long _prefetchedBlocks;
    private long _errors;

    /// <summary>Bytes returned by reads.</summary>
    public long BytesRead => Interlocked.Read(ref _bytesRead);

    /// <summary>Read calls.</summary>
    public long Reads => Interlocked.Read(ref _reads);

    /// <summary>Block lookups served by the cache.</summary>
    public long CacheHits => Interlocked.Read(ref _hits);

    /// <summary>Block lookups that joined a fetch already under way.</summary>
    public long JoinedFetches => Interlocked.Read(ref _joined);

    /// <summary>Blocks fetched and verified (by readers and prefetch).</summary>
    public long FetchedBlocks => Interlocked.Read(ref _fetchedBlocks);

    /// <summary>Stored bytes of the blocks fetched.</summary>
    public long FetchedBytes => Interlocked.Read(ref _fetchedBytes);

    /// <summary>Ranged requests made.</summary>
    public long Requests => Interlocked.Read(ref _requests);

    /// <summary>Bytes asked for by ranged requests.</summary>
    public long RequestedBytes => Interlocked.Read(ref _requestedBytes);

    /// <summary>Blocks made ready by prefetch.</summary>
    public long PrefetchedBlocks => Interlocked.Read(ref _prefetchedBlocks);

    /// <summary>Failed requests and invalid blocks.</summary>
    public long Errors => Interlocked.Read(ref _errors);

    internal void AddRead(int bytes)
    {
        Interlocked.Increment(ref _reads);
        Interlocked.Add(ref _bytesRead, bytes);
    }

    internal void AddHit() => Interlocked.Increment(ref _hits);

    internal void AddJoined() => Interlocked.Increment(ref _joined);

    internal void AddFetched(int storedBytes)
    {
        Interlocked.Increment(ref _fetchedBlocks);
        Interlocked.Add(ref _fetchedBytes, storedBytes);
    }

    internal void AddRequest(int bytes)
    {
        Interlocked.Increment(ref _requests);
        Interlocked.Add(ref _requestedBytes, bytes);
    }

    internal void AddPrefetched(int blocks) => Interlocked.Add(ref _prefetchedBlocks, blocks);

    internal void AddError() => Interlocked.Increment(ref _errors);
}

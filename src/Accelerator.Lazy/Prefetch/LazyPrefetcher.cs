using Accelerator.Lazy.Reading;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Accelerator.Lazy.Prefetch;

/// <summary>
/// Fetches a lazy image's chunks in the background so that reads find them ready: first the chunks of the
/// bootstrap's prefetch list (<see cref="Format.LazyBootstrap.PrefetchInodes"/>, files in list order, each file's
/// chunks in file order), then — with <see cref="LazyReaderOptions.PrefetchAll"/> — every other chunk in data blob
/// order (the converter's path order). It runs at background priority through the reader's fetch path: its own limit
/// of requests (<see cref="LazyReaderOptions.MaxConcurrentPrefetches"/>), none started while a reader's request waits,
/// chunks merged into requests of up to <see cref="LazyReaderOptions.MaxRequestBytes"/>, every chunk verified, and
/// chunks already cached or being fetched skipped.
/// </summary>
public sealed partial class LazyPrefetcher
{
    private readonly LazyFileReader _reader;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;

    /// <summary>Creates a prefetcher for the image <paramref name="reader"/> reads.</summary>
    public LazyPrefetcher(LazyFileReader reader, ILogger<LazyPrefetcher>? logger = null, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(reader);
        _reader = reader;
        _logger = logger ?? (ILogger)NullLogger.Instance;
        _time = timeProvider ?? TimeProvider.System;
    }

    /// <summary>
    /// Runs the prefetch to its end, or until <paramref name="cancellationToken"/> is canceled (then throws
    /// <see cref="OperationCanceledException"/>; requests under way are abandoned, and readers waiting on their chunks
    /// fetch them themselves). A chunk that cannot be fetched is logged and counted
    /// (<see cref="Statistics.LazyMountStatistics.PrefetchErrors"/>) and the prefetch goes on. The outcome and duration
    /// are recorded in the reader's <see cref="LazyFileReader.Statistics"/>.
    /// </summary>
    public async Task RunAsync(CancellationToken cancellationToken = default)
    {
        var statistics = _reader.Statistics;
        long started = _time.GetTimestamp();
        statistics.PrefetchStarted();
        LogStarted(_reader.Bootstrap.PrefetchInodes.Count, _reader.Options.PrefetchAll);
        try
        {
            // The prefetch list completes before the rest starts, so the rest never competes with it.
            var listed = new HashSet<int>();
            await FetchAllAsync(ListedChunks(listed), cancellationToken).ConfigureAwait(false);
            if (_reader.Options.PrefetchAll)
            {
                await FetchAllAsync(OtherChunks(listed), cancellationToken).ConfigureAwait(false);
            }

            TimeSpan elapsed = _time.GetElapsedTime(started);
            statistics.PrefetchEnded("completed", elapsed);
            LogCompleted(statistics.PrefetchedChunks, statistics.PrefetchedBytes, statistics.PrefetchErrors, elapsed);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            statistics.PrefetchEnded("canceled", _time.GetElapsedTime(started));
            LogCanceled(statistics.PrefetchedChunks);
            throw;
        }
        catch (Exception ex)
        {
            statistics.PrefetchEnded("failed", _time.GetElapsedTime(started));
            LogFailed(ex.Message);
            throw;
        }
    }

    // Fetches the chunks with MaxConcurrentPrefetches workers, each taking the next request's worth of chunks not
    // cached yet, in order.
    private async Task FetchAllAsync(IEnumerable<ChunkRef> chunks, CancellationToken cancellationToken)
    {
        using IEnumerator<ChunkRef> order = chunks.GetEnumerator();
        var sync = new object();
        List<ChunkRef>? NextBatch()
        {
            lock (sync)
            {
                var batch = new List<ChunkRef>();
                long bytes = 0;
                while (bytes < _reader.Options.MaxRequestBytes && order.MoveNext())
                {
                    ChunkRef chunk = order.Current;
                    if (!_reader.Cache.Contains(chunk.Digest))
                    {
                        batch.Add(chunk);
                        bytes += chunk.StoredSize;
                    }
                }

                return batch.Count == 0 ? null : batch;
            }
        }

        async Task WorkAsync()
        {
            while (NextBatch() is { } batch)
            {
                await _reader.Fetcher.PrefetchAsync(batch, cancellationToken).ConfigureAwait(false);
            }
        }

        int workers = _reader.Options.MaxConcurrentPrefetches;
        await Task.WhenAll(Enumerable.Range(0, workers).Select(_ => Task.Run(WorkAsync, cancellationToken))).ConfigureAwait(false);
    }

    // The chunks of the prefetch list's files: files in list order, each file's chunks in file order, each chunk once.
    private IEnumerable<ChunkRef> ListedChunks(HashSet<int> seen)
    {
        foreach (ulong inode in _reader.Bootstrap.PrefetchInodes)
        {
            foreach (ChunkRef chunk in _reader.GetFileChunks(inode).Chunks)
            {
                if (seen.Add(chunk.Index))
                {
                    yield return chunk;
                }
            }
        }
    }

    // Every other chunk, in chunk table order (data blob order, the converter's path order).
    private IEnumerable<ChunkRef> OtherChunks(HashSet<int> listed)
    {
        for (int index = 0; index < _reader.Bootstrap.ChunkCount; index++)
        {
            if (!listed.Contains(index))
            {
                yield return _reader.Fetcher.GetChunkRef(index);
            }
        }
    }
}

using System.Buffers;
using Accelerator.Chunks.Caching;

namespace Accelerator.Seekable.Reading;

public sealed partial class SeekableContentReader
{
    // The cached chunks of units [first, last) of a layer, in order: ready ones from the cache, pending ones awaited,
    // absent ones claimed and fetched (with read-ahead). Throws the fetch's error when a unit cannot be had.
    private async ValueTask<CachedChunk[]> GetUnitsAsync(int layer, int first, int last, CancellationToken cancellationToken)
    {
        var index = _forest.Layers[layer];
        var result = new CachedChunk?[last - first];
        for (int attempt = 1; ; attempt++)
        {
            List<(int Unit, ChunkCache.ChunkClaim Claim)>? claims = null;
            List<(int Slot, Task<CachedChunk> Task)>? waits = null;
            int hits = 0;
            for (int slot = 0; slot < result.Length; slot++)
            {
                if (result[slot] is not null)
                {
                    continue;
                }

                var unit = index.Units[first + slot];
                var lookup = _cache.Lookup(unit.Digest, unit.DataLength);
                if (lookup.Ready is { } ready)
                {
                    result[slot] = ready;
                    hits++;
                }
                else if (lookup.Pending is { } pending)
                {
                    (waits ??= []).Add((slot, pending));
                }
                else
                {
                    (claims ??= []).Add((first + slot, lookup.Claim!));
                }
            }

            if (hits > 0)
            {
                _observer?.CacheHit(hits);
            }

            if (claims is not null)
            {
                await ProduceAsync(layer, claims, background: false, cancellationToken).ConfigureAwait(false);
                foreach (var (unit, claim) in claims)
                {
                    result[unit - first] = await claim.Task.ConfigureAwait(false);
                }
            }

            bool retry = false;
            foreach (var (slot, task) in waits ?? [])
            {
                try
                {
                    result[slot] = await task.WaitAsync(cancellationToken).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                {
                    // The reader that owned the fetch was interrupted: look the unit up again (and fetch it if need be).
                    retry = true;
                }
            }

            if (!retry)
            {
                return result!;
            }

            if (attempt == MaxAttempts)
            {
                throw new IOException($"Units of layer {index.Layer.Digest} were canceled by other readers {MaxAttempts} times in a row.");
            }
        }
    }

    // Completes or fails every claim: from a verified file on disk when there is one, else fetched. Never throws.
    private async Task ProduceAsync(int layer, List<(int Unit, ChunkCache.ChunkClaim Claim)> claims, bool background, CancellationToken cancellationToken)
    {
        try
        {
            var missing = new List<(int Unit, ChunkCache.ChunkClaim Claim)>(claims.Count);
            foreach (var claim in claims)
            {
                if (!claim.Claim.TryLoadFromDisk())
                {
                    missing.Add(claim);
                }
            }

            if (missing.Count == 0)
            {
                return;
            }

            var runs = Plan(layer, missing);
            if (background)
            {
                foreach (var run in runs)
                {
                    await FetchAsync(run, cancellationToken).ConfigureAwait(false);
                }
            }
            else
            {
                if (_options.ReadAheadBytes > 0)
                {
                    ExtendForReadAhead(runs[^1]);
                }

                await Task.WhenAll(runs.Select(run => FetchAsync(run, cancellationToken))).ConfigureAwait(false);
            }
        }
        catch (Exception ex)
        {
            foreach (var (_, claim) in claims)
            {
                if (!claim.IsCompleted)
                {
                    claim.Fail(ex);
                }
            }
        }
    }

    // Sorts the units by blob offset and merges neighbours (touching or overlapping in the blob, as gzip spans sharing
    // a partial byte do) into runs of at most MaxRequestBytes, each fetched with one ranged request.
    private List<FetchRun> Plan(int layer, List<(int Unit, ChunkCache.ChunkClaim Claim)> missing)
    {
        var units = _forest.Layers[layer].Units;
        missing.Sort((a, b) => units[a.Unit].CompressedOffset.CompareTo(units[b.Unit].CompressedOffset));
        var runs = new List<FetchRun>();
        FetchRun? current = null;
        foreach (var (index, claim) in missing)
        {
            var unit = units[index];
            long unitEnd = unit.CompressedOffset + unit.CompressedLength;
            if (current is null || unit.CompressedOffset > current.End || Math.Max(current.End, unitEnd) - current.Start > _options.MaxRequestBytes)
            {
                current = new FetchRun(layer, unit.CompressedOffset);
                runs.Add(current);
            }

            current.Add(index, unit, claim);
        }

        return runs;
    }

    // A small request takes along the absent units that follow it in the blob, up to ReadAheadBytes in all: the next
    // chunks of a TOC layer are likely the neighbouring small files a program reads next.
    private void ExtendForReadAhead(FetchRun run)
    {
        var units = _forest.Layers[run.Layer].Units;
        for (int next = run.Items[^1].Unit + 1; next < units.Count && run.Length < _options.ReadAheadBytes; next++)
        {
            var unit = units[next];
            long unitEnd = unit.CompressedOffset + unit.CompressedLength;
            if (unit.CompressedOffset > run.End || unit.CompressedOffset < run.Start || Math.Max(run.End, unitEnd) - run.Start > _options.ReadAheadBytes)
            {
                return;
            }

            // Ready, pending or waiting on disk: stop, the rest is likely there too.
            if (_cache.TryClaim(unit.Digest, unit.DataLength, includeUnverified: false) is not { } claim)
            {
                return;
            }

            run.Add(next, unit, claim);
        }
    }

    // One ranged request for a run, then each unit decoded, verified and stored. Never throws: a failure fails the
    // claims it concerns (all of them when the request fails, one when its bytes are not the unit).
    private async Task FetchAsync(FetchRun run, CancellationToken cancellationToken)
    {
        int length = checked((int)run.Length);
        byte[] buffer = ArrayPool<byte>.Shared.Rent(length);
        try
        {
            int received;
            try
            {
                received = await ReadRangeAsync(run, buffer.AsMemory(0, length), cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                if (ex is not OperationCanceledException)
                {
                    LogFetchFailed(_blobs[run.Layer].Address.ToString(), run.Start, length, ex.Message);
                }

                foreach (var (_, _, claim) in run.Items)
                {
                    claim.Fail(ex);
                }

                return;
            }

            _observer?.Fetched(_options.SourceName, received, run.Items.Count);
            foreach (var (index, unit, claim) in run.Items)
            {
                Store(run, index, unit, claim, buffer.AsSpan(0, received));
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    // One ranged request into the buffer, within a request slot and the request timeout; returns the bytes received
    // (fewer than asked only when the blob ends early).
    private async Task<int> ReadRangeAsync(FetchRun run, Memory<byte> buffer, CancellationToken cancellationToken)
    {
        await _requests.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            using var timeout = _options.RequestTimeout == Timeout.InfiniteTimeSpan ? null : new CancellationTokenSource(_options.RequestTimeout, _time);
            using var linked = timeout is null ? null : CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
            var token = linked?.Token ?? cancellationToken;
            var (source, address) = _blobs[run.Layer];
            try
            {
                var stream = await source.OpenRangeAsync(address, run.Start, buffer.Length, token).ConfigureAwait(false);
                await using (stream.ConfigureAwait(false))
                {
                    return await stream.ReadAtLeastAsync(buffer, buffer.Length, throwOnEndOfStream: false, token).ConfigureAwait(false);
                }
            }
            catch (OperationCanceledException) when (timeout?.IsCancellationRequested == true && !cancellationToken.IsCancellationRequested)
            {
                throw new TimeoutException(
                    $"No answer from {_options.SourceName} for the ranged read of {address} at {run.Start}+{buffer.Length} within {_options.RequestTimeout}: the registry (or mirror) is unreachable or does not answer.");
            }
        }
        finally
        {
            _requests.Release();
        }
    }

    private void Store(FetchRun run, int index, SeekableUnit unit, ChunkCache.ChunkClaim claim, ReadOnlySpan<byte> received)
    {
        var layer = _forest.Layers[run.Layer];
        long start = unit.CompressedOffset - run.Start;
        if (start + unit.CompressedLength > received.Length)
        {
            var ended = new InvalidDataException(
                $"Layer {layer.Layer.Digest} ended at {run.Start + received.Length} bytes, inside unit {index} ({unit.CompressedOffset}+{unit.CompressedLength}).");
            LogUnitInvalid(layer.Layer.Digest.ToString(), index, ended.Message);
            claim.Fail(ended);
            return;
        }

        byte[] data = ArrayPool<byte>.Shared.Rent(unit.DataLength);
        try
        {
            var decoded = data.AsSpan(0, unit.DataLength);
            try
            {
                layer.Decode(index, received.Slice((int)start, unit.CompressedLength), decoded);
            }
            catch (InvalidDataException ex)
            {
                _observer?.VerificationFailed(unit, layer.Layer.Digest.ToString());
                LogUnitInvalid(layer.Layer.Digest.ToString(), index, ex.Message);
                claim.Fail(new InvalidDataException($"Layer {layer.Layer.Digest}: unit {index} ({unit.CompressedOffset}+{unit.CompressedLength}) does not decode: {ex.Message}", ex));
                return;
            }

            if (!HashMatches(decoded, unit.Digest, out var actual))
            {
                var mismatch = new InvalidDataException(
                    $"Layer {layer.Layer.Digest}: unit {index} (blob {unit.CompressedOffset}+{unit.CompressedLength}, data {unit.DataOffset}+{unit.DataLength}) decoded to sha256 {actual}, not the indexed {unit.Digest}; nothing of it was served or cached.");
                _observer?.VerificationFailed(unit, layer.Layer.Digest.ToString());
                LogUnitInvalid(layer.Layer.Digest.ToString(), index, mismatch.Message);
                claim.Fail(mismatch);
                return;
            }

            claim.Complete(decoded);
        }
        catch (Exception ex)
        {
            if (!claim.IsCompleted)
            {
                claim.Fail(ex);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(data);
        }
    }

    /// <summary>Units of one layer fetched with one ranged request.</summary>
    private sealed class FetchRun(int layer, long start)
    {
        public int Layer { get; } = layer;

        public long Start { get; } = start;

        public long End { get; private set; } = start;

        public long Length => End - Start;

        public List<(int Unit, SeekableUnit Value, ChunkCache.ChunkClaim Claim)> Items { get; } = [];

        public void Add(int unit, SeekableUnit value, ChunkCache.ChunkClaim claim)
        {
            Items.Add((unit, value, claim));
            End = Math.Max(End, value.CompressedOffset + value.CompressedLength);
        }
    }
}

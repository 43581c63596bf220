using System.Security.Cryptography;
using Accelerator.Chunks.Caching;
using Accelerator.Fuse.FileSystem;
using Accelerator.Oci.Validation;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Accelerator.Seekable.Reading;

/// <summary>
/// Reads the files of a <see cref="SeekableForest"/> from the original layer blobs: the units holding the bytes asked
/// for are looked up in the shared <see cref="ChunkCache"/> (keyed by their sha256) — ready ones read from it, pending
/// ones awaited, absent ones claimed and fetched with ranged requests (units adjacent in a blob merged, bounded by
/// <see cref="SeekableReaderOptions.MaxRequestBytes"/>), decoded, verified against their sha256 and only then stored
/// and served.
/// </summary>
/// <remarks>
/// A unit whose decoded bytes do not match its digest fails its claim with an <see cref="InvalidDataException"/> naming
/// the layer, the unit and both digests: the read fails (EIO through FUSE), nothing is cached, and the next read
/// fetches it again. Thread-safe; concurrent readers of one unit share one fetch.
/// </remarks>
public sealed partial class SeekableContentReader : IFileContentReader
{
    // A reader retries a unit whose fetch it joined when that fetch was canceled by its owner, or whose cache file
    // vanished; more than this many times in a row is an error.
    private const int MaxAttempts = 4;

    private readonly SeekableForest _forest;
    private readonly (IBlobSource Source, BlobAddress Address)[] _blobs;
    private readonly ChunkCache _cache;
    private readonly SeekableReaderOptions _options;
    private readonly ISeekableReadObserver? _observer;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly SemaphoreSlim _requests;

    /// <summary>Creates a reader of <paramref name="forest"/>'s files.</summary>
    /// <param name="forest">The layers' trees.</param>
    /// <param name="blobs">Per layer (same order as <see cref="SeekableForest.Layers"/>), where its blob is read from with ranged reads.</param>
    /// <param name="cache">The chunk cache; it may be shared with other readers and images.</param>
    /// <param name="options">Fetch limits and the source's name.</param>
    /// <param name="observer">Told about reads, fetches, hits and failed verifications; none when null.</param>
    /// <param name="logger">Where to log; none when null.</param>
    /// <param name="time">The clock for request timeouts; the system clock when null.</param>
    /// <exception cref="ArgumentException">The blob list does not have one address per layer, or an address is not its layer's blob.</exception>
    /// <exception cref="ArgumentOutOfRangeException">The options are out of range.</exception>
    public SeekableContentReader(
        SeekableForest forest, IReadOnlyList<(IBlobSource Source, BlobAddress Address)> blobs, ChunkCache cache, SeekableReaderOptions options,
        ISeekableReadObserver? observer = null, ILogger? logger = null, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(forest);
        ArgumentNullException.ThrowIfNull(blobs);
        ArgumentNullException.ThrowIfNull(cache);
        ArgumentNullException.ThrowIfNull(options);
        new SeekableReaderOptionsValidator().ThrowIfOutOfRange(options, "seekable reader");
        if (blobs.Count != forest.Layers.Count)
        {
            throw new ArgumentException($"The forest has {forest.Layers.Count} layers but {blobs.Count} blob addresses were given.", nameof(blobs));
        }

        for (int layer = 0; layer < blobs.Count; layer++)
        {
            ArgumentNullException.ThrowIfNull(blobs[layer].Source);
            if (blobs[layer].Address.Digest != forest.Layers[layer].Layer.Digest)
            {
                throw new ArgumentException($"Layer {layer} is {forest.Layers[layer].Layer.Digest} but its address names {blobs[layer].Address.Digest}.", nameof(blobs));
            }
        }

        _forest = forest;
        _blobs = [.. blobs];
        _cache = cache;
        _options = options;
        _observer = observer;
        _logger = logger ?? NullLogger.Instance;
        _time = time ?? TimeProvider.System;
        _requests = new SemaphoreSlim(options.MaxParallelRequests, options.MaxParallelRequests);
    }

    /// <summary>The forest whose files are read.</summary>
    public SeekableForest Forest => _forest;

    /// <summary>The options in force.</summary>
    public SeekableReaderOptions Options => _options;

    /// <summary>
    /// Reads up to <paramref name="buffer"/>'s length of regular file <paramref name="inode"/> from
    /// <paramref name="offset"/>; returns the bytes read, fewer only at the end of the file, 0 at or past it.
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="inode"/> is not a regular file of the forest.</exception>
    /// <exception cref="InvalidDataException">A unit's bytes did not decode, or not to its digest (nothing is served).</exception>
    /// <exception cref="TimeoutException">A ranged request got no answer within <see cref="SeekableReaderOptions.RequestTimeout"/>.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was canceled.</exception>
    /// <remarks>The blob source's own errors pass through.</remarks>
    public async ValueTask<int> ReadAsync(ulong inode, long offset, Memory<byte> buffer, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        if (_forest.FileOf(inode) is not var (layer, entry))
        {
            throw new ArgumentException($"Inode {inode} is not a regular file of the forest.", nameof(inode));
        }

        cancellationToken.ThrowIfCancellationRequested();
        long size = entry.Header.Size;
        if (offset >= size || buffer.IsEmpty)
        {
            return 0;
        }

        int count = (int)Math.Min(buffer.Length, size - offset);
        long start = entry.DataOffset + offset;
        long end = start + count;
        var index = _forest.Layers[layer];
        var (first, last) = CoveringUnits(index, start, end);
        var chunks = await GetUnitsAsync(layer, first, last, cancellationToken).ConfigureAwait(false);
        var destination = buffer[..count];
        for (int k = 0; k < chunks.Length; k++)
        {
            var unit = index.Units[first + k];
            long from = Math.Max(start, unit.DataOffset);
            long to = Math.Min(end, unit.DataOffset + unit.DataLength);
            for (int attempt = 1; ; attempt++)
            {
                try
                {
                    chunks[k].Read((int)(from - unit.DataOffset), destination.Span.Slice((int)(from - start), (int)(to - from)));
                    break;
                }
                catch (ChunkVanishedException vanished) when (attempt < MaxAttempts)
                {
                    _cache.Invalidate(vanished.Chunk);
                    chunks[k] = (await GetUnitsAsync(layer, first + k, first + k + 1, cancellationToken).ConfigureAwait(false))[0];
                }
            }
        }

        _observer?.Read(inode, offset, count);
        return count;
    }

    /// <summary>
    /// Fetches, in the background, the units holding these files (in the order given, one request at a time, each
    /// taking a request slot): units already cached, pending or verified on disk are skipped. A unit that cannot be
    /// fetched is logged and left absent; prefetch never fails a read or the mount.
    /// </summary>
    /// <returns>The number of units fetched.</returns>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was canceled.</exception>
    public async Task<int> PrefetchAsync(IEnumerable<ulong> inodes, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(inodes);
        int fetched = 0;
        foreach (ulong inode in inodes)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (_forest.FileOf(inode) is not var (layer, entry) || entry.Header.Size == 0)
            {
                continue;
            }

            var index = _forest.Layers[layer];
            int first, last;
            try
            {
                (first, last) = CoveringUnits(index, entry.DataOffset, entry.DataOffset + entry.Header.Size);
            }
            catch (InvalidDataException ex)
            {
                LogPrefetchFailed(inode, ex.Message);
                continue;
            }

            var claims = new List<(int Unit, ChunkCache.ChunkClaim Claim)>();
            for (int unit = first; unit < last; unit++)
            {
                var u = index.Units[unit];
                if (_cache.TryClaim(u.Digest, u.DataLength, includeUnverified: true) is { } claim)
                {
                    claims.Add((unit, claim));
                }
            }

            await ProduceAsync(layer, claims, background: true, cancellationToken).ConfigureAwait(false);
            foreach (var (unit, claim) in claims)
            {
                if (claim.Task.IsCompletedSuccessfully)
                {
                    fetched++;
                }
                else if (claim.Task.Exception?.InnerException is { } error && error is not OperationCanceledException)
                {
                    LogPrefetchFailed(inode, error.Message);
                }
            }
        }

        cancellationToken.ThrowIfCancellationRequested();
        return fetched;
    }

    /// <summary>
    /// Fills the cache with a unit of layer <paramref name="layer"/> whose bytes the caller already has and verified
    /// (a layer fetched whole at mount time); its sha256 is checked again before it is stored. Nothing happens when the
    /// unit is already cached or being fetched.
    /// </summary>
    /// <exception cref="ArgumentException">The layer is out of range or the bytes are not the unit's length.</exception>
    /// <exception cref="InvalidDataException">The bytes are not the unit's (sha256); nothing is stored.</exception>
    public void Prime(int layer, SeekableUnit unit, ReadOnlySpan<byte> verified)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(layer);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(layer, _forest.Layers.Count);
        if (verified.Length != unit.DataLength)
        {
            throw new ArgumentException($"Unit {unit.Digest} is {unit.DataLength} bytes, not {verified.Length}.", nameof(verified));
        }

        if (!HashMatches(verified, unit.Digest, out var actual))
        {
            _observer?.VerificationFailed(unit, _forest.Layers[layer].Layer.Digest.ToString());
            throw new InvalidDataException($"Layer {_forest.Layers[layer].Layer.Digest}: the bytes primed for unit {unit.Digest} hash to {actual}.");
        }

        _cache.TryClaim(unit.Digest, unit.DataLength, includeUnverified: true)?.Complete(verified);
    }

    // The units [first, last) holding data range [start, end) of a layer, checked to cover it without a gap.
    private static (int First, int Last) CoveringUnits(SeekableLayerIndex index, long start, long end)
    {
        int first = index.FindUnit(start);
        if (first < 0)
        {
            throw new InvalidDataException($"Layer {index.Layer.Digest}: no unit holds data offset {start}.");
        }

        int last = first + 1;
        long covered = index.Units[first].DataOffset + index.Units[first].DataLength;
        while (covered < end)
        {
            if (last >= index.Units.Count || index.Units[last].DataOffset != covered)
            {
                throw new InvalidDataException($"Layer {index.Layer.Digest}: no unit holds data offset {covered}.");
            }

            covered += index.Units[last].DataLength;
            last++;
        }

        return (first, last);
    }

    private static bool HashMatches(ReadOnlySpan<byte> data, Digest expected, out Digest actual)
    {
        Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(data, hash);
        actual = Digest.FromHash(Digest.Sha256, hash);
        return actual == expected;
    }
}

using System.Collections.Concurrent;
using Accelerator.P2P.Protocol;
using Microsoft.Extensions.Logging;

namespace Accelerator.P2P.Peers;

/// <summary>
/// Preheating for seed peers: blobs a scheduler asks for in a heartbeat answer are read through P2P into the piece
/// store, bounded (blobs of a known size up to <see cref="P2PPeerOptions.MaxPreheatBlobBytes"/>, a bounded backlog, a
/// few at once).
/// </summary>
internal sealed class Preheater(P2PPeerOptions options, Func<string, PeerBlobSource> createSource, PeerCounters counters, ILogger logger, CancellationToken stopping) : IDisposable
{
    private const int MaxPreheatBacklog = 256;

    private readonly P2PPeerOptions _options = options;
    private readonly Func<string, PeerBlobSource> _createSource = createSource;
    private readonly PeerCounters _counters = counters;
    private readonly ILogger _logger = logger;
    private readonly CancellationToken _stopping = stopping;
    private readonly ConcurrentDictionary<Digest, Task> _preheats = new();
    private readonly SemaphoreSlim _preheatSlots = new(options.MaxConcurrentPreheats, options.MaxConcurrentPreheats);

    /// <summary>Starts fetching <paramref name="blob"/> into the piece store, unless it runs already or is over the bounds.</summary>
    public void Start(BlobRef blob)
    {
        if (!Digest.TryParse(blob.Digest, out var digest) || _preheats.TryGetValue(digest, out var running) && !running.IsCompleted)
        {
            return;
        }

        // Bounded: blobs of a known size up to MaxPreheatBlobBytes, a bounded backlog, a few downloads at once.
        foreach (var done in _preheats.Where(p => p.Value.IsCompleted).ToList())
        {
            _preheats.TryRemove(done);
        }

        if (blob.Size < 0 || blob.Size > _options.MaxPreheatBlobBytes || _preheats.Count >= MaxPreheatBacklog)
        {
            Interlocked.Increment(ref _counters.PreheatsSkipped);
            PeerLog.PreheatFailed(_logger, digest, "over the preheat bounds (size unknown or too large, or too many preheats waiting)");
            return;
        }

        _preheats[digest] = Task.Run(async () =>
        {
            bool slot = false;
            try
            {
                await _preheatSlots.WaitAsync(_stopping).ConfigureAwait(false);
                slot = true;
                var source = _createSource(blob.Registry);
                await using var stream = await source.OpenReadAsync(new BlobAddress(blob.Repository, digest, blob.Size), _stopping).ConfigureAwait(false);
                await stream.CopyToAsync(Stream.Null, _stopping).ConfigureAwait(false);
                Interlocked.Increment(ref _counters.BlobsPreheated);
                PeerLog.Preheated(_logger, digest);
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !_stopping.IsCancellationRequested)
            {
                PeerLog.PreheatFailed(_logger, digest, ex.Message);
            }
            finally
            {
                if (slot)
                {
                    _preheatSlots.Release();
                }
            }
        });
    }

    /// <summary>Waits for the preheats started (after the peer stopped, they end), ignoring their failures.</summary>
    public async Task DrainAsync()
    {
        foreach (var preheat in _preheats.Values)
        {
            try
            {
                await preheat.ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is OperationCanceledException or IOException or HttpRequestException or P2PProtocolException or UnauthorizedAccessException)
            {
            }
        }
    }

    /// <summary>Releases the preheat slots.</summary>
    public void Dispose() => _preheatSlots.Dispose();
}

using System.Collections.Concurrent;
using Accelerator.Snapshotter.Remote;

namespace Accelerator.Snapshotter.Store;

/// <summary>
/// The images whose layers the snapshot store served from its chain-id layers (pulls carrying the CRI labels), so that
/// <c>GET /v1/images</c>, <c>accel snapshotter status</c> and the decision metrics show them beside the remote
/// provider's decisions: strategy <c>cache</c>, reason <see cref="Reason"/>.
/// </summary>
internal sealed class StoreServedImages(TimeProvider? time = null)
{
    /// <summary>The reason shown for an image served by the store's layers.</summary>
    public const string Reason = "layers in the snapshot store";

    private readonly TimeProvider _time = time ?? TimeProvider.System;
    private readonly ConcurrentDictionary<(string Image, string Manifest), Entry> _images = new();

    /// <summary>Records that one layer of <paramref name="labels"/>' image was served; true for the image's first layer seen.</summary>
    public bool Record(IReadOnlyDictionary<string, string> labels)
    {
        if (!RemoteImageLabels.TryRead(labels, out var image, out var manifest, out _))
        {
            return false;
        }

        bool added = false;
        var entry = _images.GetOrAdd((image.ToString(), manifest.ToString()), _ =>
        {
            added = true;
            return new Entry(_time.GetUtcNow());
        });
        Interlocked.Increment(ref entry.Layers);
        return added;
    }

    /// <summary>One status per image, in the shape of the remote provider's.</summary>
    public IReadOnlyList<RemoteImageStatus> GetStatus()
        => _images.OrderBy(e => e.Value.DecidedAt).Select(e => new RemoteImageStatus
        {
            Image = e.Key.Image,
            Manifest = e.Key.Manifest,
            Strategy = "cache",
            Reason = Reason,
            DecidedAt = e.Value.DecidedAt,
            Snapshots = Volatile.Read(ref e.Value.Layers),
            Mounted = false,
        }).ToList();

    private sealed class Entry(DateTimeOffset decidedAt)
    {
        public readonly DateTimeOffset DecidedAt = decidedAt;
        public int Layers;
    }
}

using Accelerator.Snapshots.Catalog;
using Accelerator.Snapshots.Storage;
using Microsoft.Extensions.Logging;

namespace Accelerator.Snapshots.Eviction;

/// <summary>
/// Removes snapshots: one on request, or as the time-to-live and capacity require (least recently used first), then
/// every layer no snapshot, clone, running warm or pin uses. Mounted snapshots, the layers of warms in progress and
/// pinned layers (with the layers under them) stay.
/// </summary>
internal sealed partial class SnapshotEvictor(SnapshotCatalog catalog, ILogger logger)
{
    private readonly ILogger _logger = logger;

    /// <summary>Evicts the snapshot of <paramref name="manifestDigest"/> and the layers no other snapshot uses.</summary>
    /// <returns>False when there is no such snapshot.</returns>
    /// <exception cref="InvalidOperationException">A clone of it is mounted.</exception>
    public async Task<bool> EvictAsync(Digest manifestDigest, CancellationToken cancellationToken)
    {
        using (await catalog.LockStoreAsync(cancellationToken).ConfigureAwait(false))
        {
            if (!File.Exists(catalog.ImagePath(manifestDigest)))
            {
                return false;
            }

            var mounts = catalog.LiveMounts();
            if (mounts.Digests.Contains(manifestDigest.ToString()))
            {
                throw new InvalidOperationException($"The snapshot {manifestDigest} is mounted; unmount its clones first.");
            }

            File.Delete(catalog.ImagePath(manifestDigest));
            LogEvicted(manifestDigest, "asked");
            DeleteUnusedLayers(mounts);
            return true;
        }
    }

    /// <summary>Applies the time-to-live and the capacity, never evicting <paramref name="keep"/> (a snapshot just published).</summary>
    /// <returns>The snapshots evicted.</returns>
    public async Task<int> PruneAsync(Digest? keep, CancellationToken cancellationToken)
    {
        var options = catalog.Options;
        using (await catalog.LockStoreAsync(cancellationToken).ConfigureAwait(false))
        {
            var mounts = catalog.LiveMounts();
            var records = catalog.ImageRecords().ToList();
            var now = catalog.Time.GetUtcNow();
            int evicted = 0;
            bool Evictable(ImageRecord r) => !mounts.Digests.Contains(r.ManifestDigest) && r.ManifestDigest != keep?.ToString();

            if (options.TimeToLive is { } ttl)
            {
                foreach (var record in records.Where(r => Evictable(r) && catalog.LastUsed(Digest.Parse(r.ManifestDigest)) + ttl < now).ToList())
                {
                    File.Delete(catalog.ImagePath(Digest.Parse(record.ManifestDigest)));
                    records.Remove(record);
                    LogEvicted(Digest.Parse(record.ManifestDigest), "expired");
                    evicted++;
                }
            }

            DeleteUnusedLayers(mounts);
            if (options.CapacityBytes > 0)
            {
                var queue = records.Where(Evictable).OrderBy(r => catalog.LastUsed(Digest.Parse(r.ManifestDigest))).ToList();
                long used = UsedBytes();
                foreach (var record in queue)
                {
                    if (used <= options.CapacityBytes)
                    {
                        break;
                    }

                    File.Delete(catalog.ImagePath(Digest.Parse(record.ManifestDigest)));
                    LogEvicted(Digest.Parse(record.ManifestDigest), "over capacity");
                    evicted++;
                    DeleteUnusedLayers(mounts);
                    used = UsedBytes();
                }

                if (used > options.CapacityBytes)
                {
                    LogOverCapacity(used, options.CapacityBytes);
                }
            }

            return evicted;
        }
    }

    /// <summary>Disk bytes of all published layers.</summary>
    public long UsedBytes()
    {
        long used = 0;
        foreach (string directory in Directory.EnumerateDirectories(catalog.LayersDirectory))
        {
            if (Digest.TryParse("sha256:" + Path.GetFileName(directory), out var chainId) && catalog.TryLoadLayer(chainId) is { } layer)
            {
                used += layer.SizeBytes;
            }
        }

        return used;
    }

    /// <summary>Deletes layers that no snapshot, clone or running warm uses. Call under the store lock.</summary>
    private void DeleteUnusedLayers(MountState mounts)
    {
        var used = new HashSet<string>(mounts.ChainIds, StringComparer.Ordinal);
        // Layers a holder pinned (a containerd snapshot uses them), and the layers under them.
        used.UnionWith(catalog.PinnedLayers());
        foreach (var record in catalog.ImageRecords())
        {
            used.UnionWith(record.ChainIds);
        }

        foreach (string staging in Directory.EnumerateDirectories(catalog.StagingDirectory))
        {
            if (FileLock.IsHeld(Path.Combine(staging, ".lock")) && File.Exists(Path.Combine(staging, "uses")))
            {
                used.UnionWith(File.ReadAllLines(Path.Combine(staging, "uses")));
            }
        }

        foreach (string directory in Directory.EnumerateDirectories(catalog.LayersDirectory))
        {
            string chainId = "sha256:" + Path.GetFileName(directory);
            if (!used.Contains(chainId))
            {
                // A layer being rebuilt holds its lock; leave it to its builder.
                using var building = FileLock.TryAcquire(catalog.LayerLockPath(Digest.Parse(chainId)));
                if (building is not null)
                {
                    catalog.DeleteTree(directory);
                }
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Evicted the snapshot {Digest} ({Reason}).")]
    private partial void LogEvicted(Digest digest, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The snapshot store uses {Used} bytes, over its capacity of {Capacity}; what remains is mounted or in use.")]
    private partial void LogOverCapacity(long used, long capacity);
}

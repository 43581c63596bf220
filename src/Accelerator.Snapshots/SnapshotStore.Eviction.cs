using Accelerator.Linux;
using Accelerator.Snapshots.Storage;

namespace Accelerator.Snapshots;

public sealed partial class SnapshotStore
{
    /// <summary>Evicts the snapshot of <paramref name="manifestDigest"/> and the layers no other snapshot uses.</summary>
    /// <returns>False when there is no such snapshot.</returns>
    /// <exception cref="InvalidOperationException">A clone of it is mounted.</exception>
    public async Task<bool> EvictAsync(Digest manifestDigest, CancellationToken cancellationToken = default)
    {
        using (await LockStoreAsync(cancellationToken).ConfigureAwait(false))
        {
            if (!File.Exists(ImagePath(manifestDigest)))
            {
                return false;
            }

            var mounts = LiveMounts();
            if (mounts.Digests.Contains(manifestDigest.ToString()))
            {
                throw new InvalidOperationException($"The snapshot {manifestDigest} is mounted; unmount its clones first.");
            }

            File.Delete(ImagePath(manifestDigest));
            LogEvicted(manifestDigest, "asked");
            DeleteUnusedLayers(mounts);
            return true;
        }
    }

    /// <summary>
    /// Applies the time-to-live and the capacity: evicts snapshots unused for longer than the time-to-live, then the
    /// least recently used ones while the store is over capacity (layers no snapshot uses first). Mounted snapshots and
    /// the layers of warms in progress are never evicted.
    /// </summary>
    /// <returns>The snapshots evicted.</returns>
    public Task<int> PruneAsync(CancellationToken cancellationToken = default) => PruneAsync(keep: null, cancellationToken);

    private async Task<int> PruneAsync(Digest? keep, CancellationToken cancellationToken)
    {
        using (await LockStoreAsync(cancellationToken).ConfigureAwait(false))
        {
            var mounts = LiveMounts();
            var records = ImageRecords().ToList();
            var now = _time.GetUtcNow();
            int evicted = 0;
            bool Evictable(ImageRecord r) => !mounts.Digests.Contains(r.ManifestDigest) && r.ManifestDigest != keep?.ToString();

            if (_options.TimeToLive is { } ttl)
            {
                foreach (var record in records.Where(r => Evictable(r) && LastUsed(Digest.Parse(r.ManifestDigest)) + ttl < now).ToList())
                {
                    File.Delete(ImagePath(Digest.Parse(record.ManifestDigest)));
                    records.Remove(record);
                    LogEvicted(Digest.Parse(record.ManifestDigest), "expired");
                    evicted++;
                }
            }

            DeleteUnusedLayers(mounts);
            if (_options.CapacityBytes > 0)
            {
                var queue = records.Where(Evictable).OrderBy(r => LastUsed(Digest.Parse(r.ManifestDigest))).ToList();
                long used = UsedBytes();
                foreach (var record in queue)
                {
                    if (used <= _options.CapacityBytes)
                    {
                        break;
                    }

                    File.Delete(ImagePath(Digest.Parse(record.ManifestDigest)));
                    LogEvicted(Digest.Parse(record.ManifestDigest), "over capacity");
                    evicted++;
                    DeleteUnusedLayers(mounts);
                    used = UsedBytes();
                }

                if (used > _options.CapacityBytes)
                {
                    LogOverCapacity(used, _options.CapacityBytes);
                }
            }

            return evicted;
        }
    }

    /// <summary>Disk bytes of all published layers.</summary>
    public long UsedBytes()
    {
        long used = 0;
        foreach (string directory in Directory.EnumerateDirectories(LayersDirectory))
        {
            if (Digest.TryParse("sha256:" + Path.GetFileName(directory), out var chainId) && TryLoadLayer(chainId) is { } layer)
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
        foreach (var record in ImageRecords())
        {
            used.UnionWith(record.ChainIds);
        }

        foreach (string staging in Directory.EnumerateDirectories(StagingDirectory))
        {
            if (FileLock.IsHeld(Path.Combine(staging, ".lock")) && File.Exists(Path.Combine(staging, "uses")))
            {
                used.UnionWith(File.ReadAllLines(Path.Combine(staging, "uses")));
            }
        }

        foreach (string directory in Directory.EnumerateDirectories(LayersDirectory))
        {
            string chainId = "sha256:" + Path.GetFileName(directory);
            if (!used.Contains(chainId))
            {
                // A layer being rebuilt holds its lock; leave it to its builder.
                using var building = FileLock.TryAcquire(LayerLockPath(Digest.Parse(chainId)));
                if (building is not null)
                {
                    DeleteTree(directory);
                }
            }
        }
    }

    // BlockMounter's private directory holds the FUSE mount of the disk file at block-ID/fuse.
    private static bool IsBlockFuseMount(string mountPoint) => mountPoint.EndsWith("/fuse", StringComparison.Ordinal);

    /// <summary>Removes what crashed processes left: staging directories, invalid layers and records, stale clones.</summary>
    private SnapshotRecoveryReport Recover()
    {
        using var storeLock = FileLock.AcquireAsync(StoreLockPath, CancellationToken.None).GetAwaiter().GetResult();
        int staging = 0, layers = 0, snapshots = 0, clones = 0;
        var table = MountTable.Read();
        foreach (string directory in Directory.EnumerateDirectories(StagingDirectory))
        {
            if (FileLock.IsHeld(Path.Combine(directory, ".lock")))
            {
                continue;
            }

            // Overlays a killed warm was unpacking into are still mounted; unmount them before deleting their upper dirs.
            foreach (string mount in MountTable.MountPointsUnder(table, directory))
            {
                OverlayMount.Unmount(mount);
            }

            DeleteTree(directory);
            staging++;
        }

        foreach (string directory in Directory.EnumerateDirectories(LayersDirectory))
        {
            if (!Digest.TryParse("sha256:" + Path.GetFileName(directory), out var chainId) || TryLoadLayer(chainId) is null)
            {
                DeleteTree(directory);
                layers++;
            }
        }

        foreach (string file in Directory.EnumerateFiles(ImagesDirectory))
        {
            bool valid = file.EndsWith(".json", StringComparison.Ordinal)
                && Digest.TryParse("sha256:" + Path.GetFileNameWithoutExtension(file), out var digest)
                && TryLoadImage(digest) is not null;
            if (!valid)
            {
                // Torn temp files of an interrupted write, corrupt records, records whose layers are gone.
                File.Delete(file);
                snapshots += file.EndsWith(".json", StringComparison.Ordinal) ? 1 : 0;
            }
        }

        var mounts = LiveMounts();
        foreach (string directory in mounts.Stale)
        {
            // A block clone whose process died leaves its file system, loop device and FUSE mount inside its directory:
            // the file system first, then the loop device (it holds the FUSE file open), then FUSE.
            var under = MountTable.MountPointsUnder(table, directory).OrderByDescending(m => m.Length).ToList();
            foreach (string mount in under.Where(m => !IsBlockFuseMount(m)))
            {
                OverlayMount.Unmount(mount);
            }

            foreach (string loop in LoopDevice.BackedUnder(directory))
            {
                try
                {
                    using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
                    LoopDevice.DetachAsync(loop, timeout.Token).GetAwaiter().GetResult();
                }
                catch (Exception ex) when (ex is IOException or OperationCanceledException)
                {
                    LogDeleteFailed(loop, ex);
                }
            }

            foreach (string mount in under.Where(IsBlockFuseMount))
            {
                OverlayMount.Unmount(mount);
            }

            DeleteTree(directory);
            clones++;
        }

        foreach (string directory in Directory.EnumerateFileSystemEntries(TrashDirectory))
        {
            DeleteTree(directory);
        }

        var report = new SnapshotRecoveryReport(staging, layers, snapshots, clones);
        if (staging + layers + snapshots + clones > 0)
        {
            LogRecovered(Root, staging, layers, snapshots, clones);
        }

        return report;
    }
}

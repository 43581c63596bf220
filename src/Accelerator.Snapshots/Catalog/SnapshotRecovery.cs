using Accelerator.Linux;
using Accelerator.Snapshots.Sharing;
using Accelerator.Snapshots.Storage;
using Microsoft.Extensions.Logging;

namespace Accelerator.Snapshots.Catalog;

/// <summary>
/// Repairs a store when it is opened: removes what crashed processes left — staging directories no process holds,
/// layers and snapshot records that are incomplete or corrupt, clones no longer mounted (with a block clone's file
/// system, loop device and FUSE mount) — and empties the trash. Pinned layers are never removed, and an adoption a
/// crash interrupted is undone (the tree goes back to its holder's directory).
/// </summary>
internal sealed partial class SnapshotRecovery(SnapshotCatalog catalog, ILogger logger)
{
    private readonly ILogger _logger = logger;

    // BlockMounter's private directory holds the FUSE mount of the disk file at block-ID/fuse.
    private static bool IsBlockFuseMount(string mountPoint) => mountPoint.EndsWith("/fuse", StringComparison.Ordinal);

    /// <summary>Removes what crashed processes left: staging directories, invalid layers and records, stale clones.</summary>
    public SnapshotRecoveryReport Recover()
    {
        using var storeLock = FileLock.AcquireAsync(catalog.StoreLockPath, CancellationToken.None).GetAwaiter().GetResult();
        int staging = 0, layers = 0, snapshots = 0, clones = 0;
        var table = MountTable.Read();
        foreach (string directory in Directory.EnumerateDirectories(catalog.StagingDirectory))
        {
            if (FileLock.IsHeld(Path.Combine(directory, ".lock")))
            {
                continue;
            }

            // Overlays a killed warm was unpacking into are still mounted; unmount them before deleting their upper dirs.
            foreach (string mount in MountTable.MountPointsUnder(table, directory))
            {
                FileSystemMount.Unmount(mount);
            }

            // An adoption killed between its renames: the holder's tree goes back where it came from.
            LayerAdoption.Undo(directory, _logger);
            catalog.DeleteTree(directory);
            staging++;
        }

        var pinned = catalog.PinnedLayers();
        foreach (string directory in Directory.EnumerateDirectories(catalog.LayersDirectory))
        {
            string name = Path.GetFileName(directory);
            if (!Digest.TryParse("sha256:" + name, out var chainId) || catalog.TryLoadLayer(chainId) is null)
            {
                if (pinned.Contains("sha256:" + name))
                {
                    // A containerd snapshot uses it: never delete it under the holder; say so instead.
                    LogPinnedInvalid(directory);
                    continue;
                }

                catalog.DeleteTree(directory);
                layers++;
            }
        }

        foreach (string file in Directory.EnumerateFiles(catalog.ImagesDirectory))
        {
            bool valid = file.EndsWith(".json", StringComparison.Ordinal)
                && Digest.TryParse("sha256:" + Path.GetFileNameWithoutExtension(file), out var digest)
                && catalog.TryLoadImage(digest) is not null;
            if (!valid)
            {
                // Torn temp files of an interrupted write, corrupt records, records whose layers are gone.
                File.Delete(file);
                snapshots += file.EndsWith(".json", StringComparison.Ordinal) ? 1 : 0;
            }
        }

        var mounts = catalog.LiveMounts();
        foreach (string directory in mounts.Stale)
        {
            // A block clone whose process died leaves its file system, loop device and FUSE mount inside its directory:
            // the file system first, then the loop device (it holds the FUSE file open), then FUSE.
            var under = MountTable.MountPointsUnder(table, directory).OrderByDescending(m => m.Length).ToList();
            foreach (string mount in under.Where(m => !IsBlockFuseMount(m)))
            {
                FileSystemMount.Unmount(mount);
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
                    catalog.LogDeleteFailed(loop, ex);
                }
            }

            foreach (string mount in under.Where(IsBlockFuseMount))
            {
                FileSystemMount.Unmount(mount);
            }

            catalog.DeleteTree(directory);
            clones++;
        }

        foreach (string directory in Directory.EnumerateFileSystemEntries(catalog.TrashDirectory))
        {
            catalog.DeleteTree(directory);
        }

        var report = new SnapshotRecoveryReport(staging, layers, snapshots, clones);
        if (staging + layers + snapshots + clones > 0)
        {
            LogRecovered(catalog.Root, staging, layers, snapshots, clones);
        }

        return report;
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "The layer {Directory} is not valid but is pinned (a containerd snapshot uses it); it is kept.")]
    private partial void LogPinnedInvalid(string directory);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Recovered the snapshot store {Root}: removed {Staging} unfinished warms, {Layers} invalid layers, {Snapshots} invalid snapshots, {Clones} stale clones.")]
    private partial void LogRecovered(string root, int staging, int layers, int snapshots, int clones);
}

using Accelerator.Linux;
using Accelerator.Snapshotter.Metadata;

namespace Accelerator.Snapshotter.Overlay;

/// <summary>
/// What a directory tree uses on disk, counted as containerd's snapshotters do (continuity's <c>fs.DiskUsage</c>): every
/// distinct inode once, its allocated 512-byte blocks as its size; symbolic links are counted, never followed.
/// </summary>
internal static class DiskUsage
{
    public static SnapshotUsage Measure(string root)
    {
        var seen = new HashSet<(uint, uint, ulong)>();
        long size = 0;
        foreach (string path in FileTree.EnumerateEntries(root).Prepend(root))
        {
            if (LibC.Lstat(LibC.AT_FDCWD, path) is { } status && seen.Add((status.DevMajor, status.DevMinor, status.Inode)))
            {
                size += status.Blocks * 512;
            }
        }

        return new SnapshotUsage(size, seen.Count);
    }
}

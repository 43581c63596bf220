using Accelerator.Linux;

namespace Accelerator.Fuse.Takeover;

/// <summary>How a FUSE mount answered statfs(2).</summary>
internal enum FuseConnectionState
{
    /// <summary>It answered: a process serves it.</summary>
    Live,

    /// <summary>ENOTCONN: the connection ended (its server and every copy of its descriptor are gone).</summary>
    Dead,

    /// <summary>No answer in time, or another error: left alone.</summary>
    Unknown,
}

/// <summary>One round's decisions: what to unmount and detach, in order, and what was left alone.</summary>
/// <param name="StackedMounts">Mounts that stand on stale ones (overlays, file systems of stale loop devices), upper ones first.</param>
/// <param name="LoopDevices">Loop devices backed by files on stale mounts, or by deleted files, under the roots.</param>
/// <param name="FuseMounts">The stale FUSE mounts, deepest first.</param>
/// <param name="Kept">What was found and left alone.</param>
internal sealed record StaleStatePlan(
    IReadOnlyList<MountEntry> StackedMounts,
    IReadOnlyList<AttachedLoopDevice> LoopDevices,
    IReadOnlyList<MountEntry> FuseMounts,
    IReadOnlyList<StaleSweepKept> Kept)
{
    public bool IsEmpty => StackedMounts.Count + LoopDevices.Count + FuseMounts.Count == 0;
}

/// <summary>
/// The sweep's decisions, from the mount table and the loop devices alone (no system call but the probe it is given),
/// so that they can be checked against any mount table.
/// </summary>
internal static class StaleStatePlanner
{
    /// <summary>Our FUSE mounts' type: <c>fuse.</c> and a <see cref="FuseMountOptions.Subtype"/> starting with <c>accel</c>.</summary>
    public const string FuseTypePrefix = "fuse.accel";

    /// <summary>Plans one round.</summary>
    /// <param name="mounts">The mount table.</param>
    /// <param name="loops">The attached loop devices.</param>
    /// <param name="roots">Canonical roots.</param>
    /// <param name="isHeld">Whether a path is held (never probed nor touched).</param>
    /// <param name="probe">Asks a FUSE mount whether its connection still lives.</param>
    public static StaleStatePlan Plan(
        IReadOnlyList<MountEntry> mounts, IReadOnlyList<AttachedLoopDevice> loops, IReadOnlyList<string> roots, Func<string, bool> isHeld, Func<MountEntry, FuseConnectionState> probe)
    {
        bool Ours(string path) => roots.Any(r => MountTable.IsAtOrUnder(path, r));
        var kept = new List<StaleSweepKept>();

        // A mount point can hold several mounts, each on the one before: only the top one can be reached (probed,
        // unmounted) by its path. A covered one is found in a later round, once the upper one is gone.
        var covered = new HashSet<int>(mounts
            .Where(m => mounts.Any(upper => upper.ParentId == m.Id && upper.MountPoint == m.MountPoint))
            .Select(m => m.Id));

        var fuse = new List<MountEntry>();
        foreach (var mount in mounts.Where(m => m.FileSystemType.StartsWith(FuseTypePrefix, StringComparison.Ordinal) && Ours(m.MountPoint)))
        {
            if (covered.Contains(mount.Id))
            {
                kept.Add(new StaleSweepKept(mount.MountPoint, "covered by a later mount at the same point"));
            }
            else if (isHeld(mount.MountPoint))
            {
                kept.Add(new StaleSweepKept(mount.MountPoint, "held for a takeover"));
            }
            else
            {
                switch (probe(mount))
                {
                    case FuseConnectionState.Dead:
                        fuse.Add(mount);
                        break;
                    case FuseConnectionState.Live:
                        kept.Add(new StaleSweepKept(mount.MountPoint, "live: a process serves it"));
                        break;
                    default:
                        kept.Add(new StaleSweepKept(mount.MountPoint, "no answer to statfs in time: left alone"));
                        break;
                }
            }
        }

        // What stands on the stale FUSE mounts, level by level: loop devices backed by their files (or by deleted
        // files), file systems on those devices, overlays over any stale mount, mounts inside one.
        var stalePoints = new List<string>(fuse.Select(m => m.MountPoint));
        var staleLoops = new List<AttachedLoopDevice>();
        var stacked = new List<(MountEntry Mount, int Level)>();
        var outside = new HashSet<int>();
        var decided = new HashSet<int>(fuse.Select(m => m.Id));
        for (int level = 0; ; level++)
        {
            foreach (var loop in loops)
            {
                if (!staleLoops.Contains(loop) && Ours(loop.BackingFile) && !isHeld(loop.BackingFile)
                    && (loop.Deleted || stalePoints.Any(p => MountTable.IsAtOrUnder(loop.BackingFile, p))))
                {
                    staleLoops.Add(loop);
                }
            }

            var found = new List<MountEntry>();
            foreach (var mount in mounts.Where(m => !decided.Contains(m.Id) && !outside.Contains(m.Id)))
            {
                bool onStale = staleLoops.Any(l => l.Device == mount.Source)
                    || MountTable.OverlayLayers(mount).Any(layer => stalePoints.Any(p => MountTable.IsAtOrUnder(layer, p)))
                    || stalePoints.Any(p => mount.MountPoint != p && MountTable.IsAtOrUnder(mount.MountPoint, p));
                if (!onStale)
                {
                    continue;
                }

                if (!Ours(mount.MountPoint))
                {
                    outside.Add(mount.Id);
                    kept.Add(new StaleSweepKept(mount.MountPoint, "stands on a stale mount but lies outside the roots"));
                }
                else if (isHeld(mount.MountPoint))
                {
                    outside.Add(mount.Id);
                    kept.Add(new StaleSweepKept(mount.MountPoint, "held for a takeover"));
                }
                else if (covered.Contains(mount.Id))
                {
                    outside.Add(mount.Id);
                    kept.Add(new StaleSweepKept(mount.MountPoint, "covered by a later mount at the same point"));
                }
                else
                {
                    found.Add(mount);
                }
            }

            if (found.Count == 0)
            {
                break;
            }

            foreach (var mount in found)
            {
                decided.Add(mount.Id);
                stacked.Add((mount, level));
                stalePoints.Add(mount.MountPoint);
            }
        }

        return new StaleStatePlan(
            [.. stacked.OrderByDescending(s => s.Level).ThenByDescending(s => s.Mount.MountPoint.Length).Select(s => s.Mount)],
            staleLoops,
            [.. fuse.OrderByDescending(m => m.MountPoint.Length)],
            kept);
    }

    /// <summary>
    /// Why the private directory <paramref name="directory"/> must stay, or null when it is stale: something is
    /// mounted in it, an overlay uses a directory in it, or a loop device's backing file lies in it.
    /// </summary>
    public static string? InUse(string directory, IReadOnlyList<MountEntry> mounts, IReadOnlyList<AttachedLoopDevice> loops)
    {
        if (mounts.FirstOrDefault(m => MountTable.IsAtOrUnder(m.MountPoint, directory)) is { MountPoint: not null } mounted)
        {
            return $"{mounted.MountPoint} is mounted ({mounted.FileSystemType})";
        }

        if (mounts.FirstOrDefault(m => MountTable.OverlayLayers(m).Any(l => MountTable.IsAtOrUnder(l, directory))) is { MountPoint: not null } overlay)
        {
            return $"the overlay at {overlay.MountPoint} uses it";
        }

        return loops.FirstOrDefault(l => MountTable.IsAtOrUnder(l.BackingFile, directory)) is { Device: not null } loop
            ? $"{loop.Device} is backed by {loop.BackingFile}"
            : null;
    }
}

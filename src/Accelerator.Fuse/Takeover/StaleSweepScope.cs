namespace Accelerator.Fuse.Takeover;

/// <summary>
/// What a daemon owns, for <see cref="StaleMountSweeper"/>: the directories whose mounts, loop devices and per-mount
/// private directories it may clean up, and which of them a holder still keeps alive.
/// </summary>
public sealed class StaleSweepScope
{
    /// <summary>
    /// The directories the daemon owns (e.g. the snapshotter's root; <c>accel mount</c>'s state directory and mount
    /// point). Nothing outside them is touched: a mount point, a loop device's backing file and a private directory
    /// must lie at or under one of them. Symbolic links leading to a root are resolved once; links inside are never
    /// followed. <c>/</c> is refused.
    /// </summary>
    public required IReadOnlyList<string> Roots { get; init; }

    /// <summary>
    /// The parents of per-mount private directories (<c>lazy-*</c>, <c>block-*</c>, see
    /// <see cref="StaleSweepOptions.PrivateDirectoryPrefixes"/>), each at or under a root: those left by dead processes
    /// are deleted.
    /// </summary>
    /// <value>Default: none.</value>
    public IReadOnlyList<string> StateDirectories { get; init; } = [];

    /// <summary>
    /// Whether a path (a mount point or a private directory) belongs to a mount a holder still keeps: such paths are
    /// never probed nor touched. Null when nothing is held.
    /// </summary>
    /// <value>Default: null.</value>
    public Func<string, bool>? IsHeld { get; init; }

    /// <summary>A <see cref="IsHeld"/> predicate: true for each of <paramref name="heldPaths"/> and everything under them.</summary>
    public static Func<string, bool> HeldAtOrUnder(IEnumerable<string> heldPaths)
    {
        ArgumentNullException.ThrowIfNull(heldPaths);
        string[] held = [.. heldPaths.Where(p => !string.IsNullOrEmpty(p)).Select(Path.GetFullPath)];
        return path => held.Any(h => Accelerator.Linux.MountTable.IsAtOrUnder(path, h));
    }
}

namespace Accelerator.Fuse.Takeover;

/// <summary>What a <see cref="StaleMountSweeper"/> did.</summary>
public sealed class StaleSweepReport
{
    /// <summary>The mount points unmounted (detached when busy), in the order they were unmounted.</summary>
    public IReadOnlyList<string> Unmounted { get; init; } = [];

    /// <summary>The loop devices detached.</summary>
    public IReadOnlyList<string> DetachedLoopDevices { get; init; } = [];

    /// <summary>The private directories deleted.</summary>
    public IReadOnlyList<string> DeletedDirectories { get; init; } = [];

    /// <summary>What was found and left alone, and why (held, live, unresponsive, outside the roots…).</summary>
    public IReadOnlyList<StaleSweepKept> Kept { get; init; } = [];

    /// <summary>What could not be cleaned up, with the error.</summary>
    public IReadOnlyList<string> Failures { get; init; } = [];

    /// <summary>Whether anything was cleaned up.</summary>
    public bool CleanedAnything => Unmounted.Count + DetachedLoopDevices.Count + DeletedDirectories.Count > 0;
}

/// <summary>Something the sweep found and did not touch.</summary>
/// <param name="Path">A mount point, loop device or directory.</param>
/// <param name="Reason">Why it was kept.</param>
public sealed record StaleSweepKept(string Path, string Reason);

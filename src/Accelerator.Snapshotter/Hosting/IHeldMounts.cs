namespace Accelerator.Snapshotter.Hosting;

/// <summary>
/// The paths a FUSE holder keeps alive for a takeover (mount points, FUSE mounts, file system mounts, private
/// directories; <c>accel snapshotter</c> asks its holder in <c>ROOT/takeover</c>), read once when the daemon starts.
/// The remote snapshots resume a held mount point at once and never unmount it; the stale-state sweep leaves every held
/// path and everything under it alone. Registered with <c>services.AddSingleton&lt;IHeldMounts, …&gt;()</c>.
/// </summary>
public interface IHeldMounts
{
    /// <summary>The held paths (empty when no holder runs).</summary>
    Task<IReadOnlyList<string>> GetHeldPathsAsync(CancellationToken cancellationToken);
}

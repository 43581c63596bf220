namespace Accelerator.Snapshotter.Remote;

/// <summary>
/// The mount points a FUSE holder keeps alive for a takeover (<c>accel snapshotter</c> asks its holder in
/// <c>ROOT/takeover</c>). The remote snapshots never unmount a held mount point they find at start: they resume it
/// (<see cref="RemoteLayerProvider"/>, at once, so reads queued while no process served it are answered).
/// </summary>
public interface IHeldMountPoints
{
    /// <summary>The canonical mount points held now (empty when no holder runs).</summary>
    Task<IReadOnlySet<string>> ListAsync(CancellationToken cancellationToken);
}

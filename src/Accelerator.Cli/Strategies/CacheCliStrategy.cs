using System.CommandLine;
using Accelerator.Cli.Commands;

namespace Accelerator.Cli.Strategies;

/// <summary>The snapshot cache in <c>accel</c>: <c>accel mount --strategy cache</c> clones a snapshot made by <c>accel cache warm</c>.</summary>
internal sealed class CacheCliStrategy : CliStrategy
{
    private readonly Option<string?> _snapshotDirectory = CacheCommand.SnapshotDirectoryOption($"The snapshot store for the cache strategy (default: {CacheCommand.DefaultRoot}).");

    /// <inheritdoc />
    public override Strategy Strategy => Strategy.Cache;

    /// <inheritdoc />
    public override string Description => "cache when a snapshot store exists";

    /// <inheritdoc />
    public override IReadOnlyList<Option> MountOptions => [_snapshotDirectory];

    /// <inheritdoc />
    public override void AddToMount(ImageAcceleratorBuilder builder, MountContext mount)
    {
        string snapshots = Path.GetFullPath(mount.Result.GetValue(_snapshotDirectory)
            ?? (mount.Chose(this) ? mount.CacheDirectory : null)
            ?? CacheCommand.DefaultRoot);
        // In auto mode the cache is tried only where a snapshot store exists: a mount never creates one.
        if (!mount.Chose(this) && !(mount.Chosen == MountContext.Auto && Directory.Exists(snapshots)))
        {
            return;
        }

        builder.UseSnapshotCache(o => o.Root = snapshots);
    }
}

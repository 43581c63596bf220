using Accelerator.Snapshots.Mounting;

namespace Accelerator.Snapshots;

/// <summary>
/// A copy-on-write clone of a snapshot, mounted. Disposing it unmounts the overlay and discards its upper directory
/// (the writes made in it); the snapshot itself never changes. A clone of a block-stack snapshot is served by this
/// process (FUSE), so it lasts as long as the process or until disposed.
/// </summary>
public sealed class SnapshotMountedImage : IMountedImage
{
    private readonly SnapshotCloner _cloner;
    private readonly string _directory;
    private readonly Accelerator.Block.Mounting.BlockMountedImage? _block;
    private int _disposed;

    internal SnapshotMountedImage(
        SnapshotCloner cloner, ImageReference image, Digest manifestDigest, string mountPoint, string directory, bool readOnly, MountStatistics statistics,
        Accelerator.Block.Mounting.BlockMountedImage? block = null)
    {
        _cloner = cloner;
        _directory = directory;
        _block = block;
        Image = image;
        ManifestDigest = manifestDigest;
        MountPoint = mountPoint;
        UpperDirectory = readOnly ? null : block is not null ? block.UpperDirectory : Path.Combine(directory, "upper");
        Statistics = statistics;
    }

    /// <summary>The kind of snapshot this is a clone of.</summary>
    public SnapshotKind Kind => _block is null ? SnapshotKind.OverlayTree : SnapshotKind.BlockStack;

    /// <summary>For a block-stack clone: the loop device its file system is mounted from; else null.</summary>
    public string? LoopDevice => _block?.LoopDevice;

    /// <inheritdoc />
    public ImageReference Image { get; }

    /// <inheritdoc />
    public Digest ManifestDigest { get; }

    /// <inheritdoc />
    public string MountPoint { get; }

    /// <summary>Where the clone's writes land; null for a read-only clone.</summary>
    public string? UpperDirectory { get; }

    /// <inheritdoc />
    public MountStatistics Statistics { get; }

    /// <inheritdoc />
    public ValueTask DisposeAsync()
        => Interlocked.Exchange(ref _disposed, 1) == 0 ? _cloner.ReleaseCloneAsync(MountPoint, _directory, _block) : ValueTask.CompletedTask;
}

using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;

namespace Accelerator.Snapshots;

/// <summary>Options of <see cref="SnapshotStore"/>, checked by <see cref="SnapshotStoreOptionsValidator"/>.</summary>
public sealed class SnapshotStoreOptions : IValidatableObject
{
    /// <summary>
    /// The store's directory; upper directories of clones are made inside it too, so it must be on a file system that
    /// can be an overlayfs upper layer (ext4, xfs, btrfs; not overlayfs itself). Paths containing ',' or ':' cannot be
    /// used (overlayfs options). <value>Default: <c>/var/lib/accel/snapshots</c>.</value>
    /// </summary>
    public string Root { get; set; } = "/var/lib/accel/snapshots";

    /// <summary>
    /// The most disk bytes the snapshots may use (0: no bound). Over it, the least recently used snapshots that are not
    /// mounted are evicted after each warm. <value>Default: 0.</value>
    /// </summary>
    public long CapacityBytes { get; set; }

    /// <summary>
    /// How long a snapshot that is neither used (warmed or mounted) nor mounted is kept; null keeps it until evicted for
    /// space. <value>Default: null.</value>
    /// </summary>
    public TimeSpan? TimeToLive { get; set; }

    /// <summary>
    /// The kind of snapshot warms make when none is asked for (<c>SnapshotStore.WarmAsync(store, image, kind)</c>
    /// names one), including the warms a mount starts. <value>Default: <see cref="SnapshotKind.OverlayTree"/>.</value>
    /// </summary>
    public SnapshotKind Kind { get; set; } = SnapshotKind.OverlayTree;

    /// <summary>
    /// Whether a block-stack warm of an image without a block variant (<c>TAG-accel-block</c>) converts the image
    /// locally (pull, mke2fs; needs root) instead of failing. <value>Default: true.</value>
    /// </summary>
    public bool ConvertMissingBlockImages { get; set; } = true;

    /// <summary>Layers downloaded at once while warming. <value>Default: 4.</value></summary>
    [Range(1, 64)]
    public int MaxParallelDownloads { get; set; } = 4;

    /// <summary>The most bytes one layer may decompress to. <value>Default: 64 GiB.</value></summary>
    public long MaxUncompressedLayerBytes { get; set; } = 64L << 30;

    /// <summary>The most entries one layer may have. <value>Default: 1,000,000.</value></summary>
    public int MaxEntriesPerLayer { get; set; } = 1_000_000;

    /// <summary>
    /// Flush each layer's tree to disk (syncfs) before publishing it, so a power loss never leaves a published layer
    /// with missing data. Turn off only for throwaway stores. <value>Default: true.</value>
    /// </summary>
    public bool Durable { get; set; } = true;

    /// <summary>
    /// Whether a mount of an image without a snapshot, when layers sharing its lowest layers are in the store, warms it
    /// first (fetching only the missing layers) rather than leaving the image to the next strategy.
    /// <value>Default: true.</value>
    /// </summary>
    public bool TopUpOnMount { get; set; } = true;

    /// <summary>
    /// Whether a mount by tag asks the registry what the tag points at now (and warms the new image when it moved).
    /// When false, a snapshot warmed under the same reference is mounted without asking (like Kubernetes'
    /// <c>IfNotPresent</c>). A reference with a digest never needs the registry when its snapshot is here.
    /// <value>Default: true.</value>
    /// </summary>
    public bool ResolveTags { get; set; } = true;

    /// <inheritdoc />
    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (string.IsNullOrWhiteSpace(Root))
        {
            yield return new ValidationResult($"{nameof(Root)} must be set.");
        }
        else if (Root.AsSpan().IndexOfAny(",:\\") >= 0)
        {
            yield return new ValidationResult($"{nameof(Root)} must not contain ',', ':' or '\\' (overlayfs options cannot carry them).");
        }

        if (CapacityBytes < 0)
        {
            yield return new ValidationResult($"{nameof(CapacityBytes)} must not be negative.");
        }

        if (MaxUncompressedLayerBytes < 1 || MaxEntriesPerLayer < 1)
        {
            yield return new ValidationResult("Layer limits must be positive.");
        }

        if (TimeToLive is { } ttl && ttl <= TimeSpan.Zero)
        {
            yield return new ValidationResult($"{nameof(TimeToLive)} must be positive.");
        }
    }
}

/// <summary>Validates <see cref="SnapshotStoreOptions"/> (generated from its data annotations and rules).</summary>
[OptionsValidator]
public sealed partial class SnapshotStoreOptionsValidator : IValidateOptions<SnapshotStoreOptions>
{
}

/// <summary>Options of one clone of a snapshot.</summary>
public sealed record SnapshotMountOptions
{
    /// <summary>Mount the snapshot read-only, without an upper directory. <value>Default: false.</value></summary>
    public bool ReadOnly { get; init; }

    /// <summary>The platform to select from a multi-platform image. <value>Default: the current platform.</value></summary>
    public Platform? Platform { get; init; }

    /// <summary>
    /// When no snapshot of the image exists but one shares its lowest layers (or a warm of it is running), warm it first,
    /// fetching only the missing layers. Otherwise only an exact snapshot is mounted.
    /// <value>Default: null, <see cref="SnapshotStoreOptions.TopUpOnMount"/>.</value>
    /// </summary>
    public bool? TopUp { get; init; }
}

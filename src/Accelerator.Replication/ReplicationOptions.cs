using System.ComponentModel.DataAnnotations;
using Accelerator.Oci.Copying;
using Microsoft.Extensions.Options;

namespace Accelerator.Replication;

/// <summary>Options of a <see cref="Replicator"/>: where to, what, and how. Checked by <see cref="ReplicationOptionsValidator"/>.</summary>
public sealed class ReplicationOptions : IValidatableObject
{
    /// <summary>The registries (with optional repository prefixes) every image is replicated to. At least one.</summary>
    public IList<ReplicationEndpoint> Targets { get; } = new List<ReplicationEndpoint>();

    /// <summary>The <c>repository:tag</c> pairs to replicate (source names). <value>Default: <see cref="ReplicationFilter.All"/>.</value></summary>
    [Required]
    public ReplicationFilter Filter { get; set; } = ReplicationFilter.All;

    /// <summary>
    /// Delete target tags in the filter's scope that the source no longer has (<see cref="Replicator.RunAsync"/> only).
    /// <value>Default: false.</value>
    /// </summary>
    public bool Delete { get; set; }

    /// <summary>Caps the total rate of blob bytes read from the source, over every copy. <value>Default: null, no cap.</value></summary>
    public BandwidthLimiter? Bandwidth { get; set; }

    /// <summary>Tags replicated at once (each to every target at once). <value>Default: 2.</value></summary>
    public int MaxParallelImages { get; set; } = 2;

    /// <summary>Blobs copied at once within one image. <value>Default: 4.</value></summary>
    public int MaxParallelBlobs { get; set; } = 4;

    /// <summary>
    /// Where blobs are known to be on the targets, for cross-repository mounts; kept for the replicator's lifetime.
    /// <value>Default: a new, empty record.</value>
    /// </summary>
    [Required]
    public KnownBlobLocations BlobLocations { get; set; } = new();

    /// <summary>Progress per blob, if wanted.</summary>
    public IProgress<CopyProgress>? Progress { get; set; }

    /// <summary>The rules: at least one target, none null, and at least one image and one blob at a time.</summary>
    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (Targets.Count == 0)
        {
            yield return new ValidationResult("Replication needs at least one target.");
        }

        if (Targets.Any(t => t is null))
        {
            yield return new ValidationResult("A replication target is null.");
        }

        if (MaxParallelImages < 1 || MaxParallelBlobs < 1)
        {
            yield return new ValidationResult("MaxParallelImages and MaxParallelBlobs must be at least 1.");
        }
    }
}

/// <summary>Validates <see cref="ReplicationOptions"/> (generated from its data annotations and rules).</summary>
[OptionsValidator]
public sealed partial class ReplicationOptionsValidator : IValidateOptions<ReplicationOptions>
{
}

using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;

namespace Accelerator.Snapshotter.Remote;

/// <summary>Options of the remote snapshots (<see cref="RemoteLayerProvider"/>), validated at start by <see cref="RemoteSnapshotOptionsValidator"/>.</summary>
public sealed class RemoteSnapshotOptions
{
    /// <summary>
    /// Where remote images are mounted and their state is kept: <c>DIRECTORY/ID/mnt</c> (the image's mount),
    /// <c>DIRECTORY/ID/layers/DEPTH</c> (an intermediate layer unpacked for another image's snapshot) and
    /// <c>DIRECTORY/ID/image.json</c>. Created 0700.
    /// </summary>
    /// <value>Required; the daemon sets <c>ROOT/remote</c>.</value>
    [Required]
    public string Directory { get; set; } = "";

    /// <summary>
    /// How long a decision to leave an image to containerd (ordinary) is reused for the image's other layers before the
    /// image is looked at again (a conversion pushed since then is then found).
    /// </summary>
    /// <value>Default 5 minutes.</value>
    [Range(typeof(TimeSpan), "00:00:00", "1.00:00:00")]
    public TimeSpan OrdinaryDecisionLifetime { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>The most decisions <c>GET /v1/images</c> remembers for images left to containerd (served images are always listed).</summary>
    /// <value>Default 256.</value>
    [Range(0, 100_000)]
    public int MaxOrdinaryDecisionsKept { get; set; } = 256;

    /// <summary>The most layers an image may have to be served remotely (bounds what a manifest may make us track).</summary>
    /// <value>Default 1024.</value>
    [Range(1, 100_000)]
    public int MaxLayers { get; set; } = 1024;
}

/// <summary>Validates <see cref="RemoteSnapshotOptions"/> (generated from its data annotations).</summary>
[OptionsValidator]
public sealed partial class RemoteSnapshotOptionsValidator : IValidateOptions<RemoteSnapshotOptions>
{
}

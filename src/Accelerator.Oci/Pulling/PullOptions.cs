using Accelerator.Oci.Layers;

namespace Accelerator.Oci.Pulling;

/// <summary>Options of <see cref="ImagePuller"/>.</summary>
public sealed record PullOptions
{
    /// <summary>The platform to select from an index. <value>Default: the current platform.</value></summary>
    public Platform? Platform { get; init; }

    /// <summary>Layers downloaded at once. <value>Default: 4.</value></summary>
    public int MaxParallelDownloads { get; init; } = 4;

    /// <summary>Limits and ownership handling for each layer. <value>Default: <see cref="LayerApplyOptions"/>'s defaults.</value></summary>
    public LayerApplyOptions Layers { get; init; } = new();

    /// <summary>
    /// The most bytes all layers of the image may decompress to together (tar headers included), or null for no
    /// bound but the per-layer one of <see cref="Layers"/>. Going over raises <see cref="ContentTooLargeException"/>,
    /// naming the image and the limit, and leaves nothing behind. <value>Default: null.</value>
    /// </summary>
    public long? MaxImageBytes { get; init; }

    /// <summary>
    /// Check each layer's uncompressed digest against the config's <c>diff_ids</c> while applying it.
    /// <value>Default: true.</value>
    /// </summary>
    public bool VerifyDiffIds { get; init; } = true;

    /// <summary>
    /// Where downloads and the tree being built are staged. It must be on the target's file system, so the finished
    /// tree can be renamed into place. <value>Default: null, the target's parent directory.</value>
    /// </summary>
    public string? StagingDirectory { get; init; }

    /// <summary>A name for the blob source in statistics. <value>Default: "origin".</value></summary>
    public string SourceName { get; init; } = "origin";

    /// <summary>
    /// Progress reports, if wanted, in bytes: stage <c>download</c> per layer (item: the layer digest; bytes received
    /// of its size), and stage <c>unpack</c> for the whole image (item: the layer being applied; compressed layer bytes
    /// applied of the sum of the layer sizes).
    /// </summary>
    public IProgress<MountProgress>? Progress { get; init; }
}

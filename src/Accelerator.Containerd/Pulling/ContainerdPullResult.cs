namespace Accelerator.Containerd.Pulling;

/// <summary>An image pulled into containerd.</summary>
/// <param name="Image">The reference, which is also the name of containerd's image record.</param>
/// <param name="Target">The digest of the image record's target (the index, or the manifest of a single-platform image).</param>
/// <param name="Manifest">The digest of the platform manifest that was unpacked.</param>
/// <param name="ChainId">The top layer's chain ID: the snapshot a container of this image is prepared from.</param>
/// <param name="Layers">Each layer, lowest first.</param>
/// <param name="Elapsed">How long the pull took.</param>
public sealed record ContainerdPullResult(
    ImageReference Image, Digest Target, Digest Manifest, string ChainId, IReadOnlyList<ContainerdPulledLayer> Layers, TimeSpan Elapsed)
{
    /// <summary>The layer bytes fetched from the registry (0 when the snapshotter had every layer).</summary>
    public long BytesFetched => Layers.Sum(l => l.BytesFetched);
}

/// <summary>One layer of a pull into containerd.</summary>
/// <param name="Index">Its position, 0 for the lowest.</param>
/// <param name="Digest">The layer blob's digest; null for a layer of an accelerated variant (whose blobs are not the source image's layers).</param>
/// <param name="DiffId">Its uncompressed digest, from the image config.</param>
/// <param name="ChainId">Its chain ID, the name of its committed snapshot.</param>
/// <param name="Outcome">How the snapshot came to be.</param>
/// <param name="BytesFetched">The blob bytes fetched from the registry for it.</param>
public sealed record ContainerdPulledLayer(int Index, Digest? Digest, Digest DiffId, string ChainId, ContainerdLayerOutcome Outcome, long BytesFetched);

/// <summary>How a layer's snapshot came to be in a pull into containerd.</summary>
public enum ContainerdLayerOutcome
{
    /// <summary>The snapshotter already had a committed snapshot with the layer's chain ID (an earlier pull).</summary>
    Present,

    /// <summary>The snapshotter answered Prepare with AlreadyExists: it serves the layer itself (a remote snapshot); no blob was fetched.</summary>
    Remote,

    /// <summary>The blob was fetched into containerd's content store and applied by containerd's diff service.</summary>
    Applied,
}

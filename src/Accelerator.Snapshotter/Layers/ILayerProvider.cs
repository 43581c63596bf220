namespace Accelerator.Snapshotter.Layers;

/// <summary>
/// Provides committed layers containerd does not have to download or unpack. On <c>Prepare</c>/<c>View</c> with the
/// label <c>containerd.io/snapshot.ref</c> (the chain ID of the layer being unpacked), the snapshotter asks each provider
/// in order (<see cref="Order"/>); the first that answers with a <see cref="LayerSource"/> gets a committed snapshot named
/// by that chain ID, backed by the source, and containerd is told AlreadyExists (so it fetches nothing for that layer).
/// </summary>
public interface ILayerProvider
{
    /// <summary>The provider's name, stored in <see cref="LayerSource.Provider"/> (e.g. <c>store</c>, <c>remote</c>).</summary>
    string Name { get; }

    /// <summary>Lower numbers are asked first.</summary>
    int Order { get; }

    /// <summary>Whether this provider can serve <paramref name="request"/>'s layer without a download by containerd; null lets containerd unpack it.</summary>
    Task<LayerSource?> TryProvideAsync(LayerRequest request, CancellationToken cancellationToken);

    /// <summary>
    /// The directories (uppermost first) a snapshot backed by <paramref name="source"/> contributes to an overlay's
    /// <c>lowerdir</c>, mounting what must be mounted (on demand, e.g. after a restart of the daemon).
    /// </summary>
    Task<LowerDirectories> ResolveLowerAsync(LayerSource source, CancellationToken cancellationToken);

    /// <summary>
    /// A committed snapshot named <paramref name="name"/> (a chain ID) was made by containerd from an active snapshot
    /// whose tree is <paramref name="directory"/>: a provider that keeps such layers (the snapshot store) may take the
    /// directory over (move it) and answer the source that now backs the snapshot; null leaves it where it is.
    /// </summary>
    Task<LayerSource?> TryAdoptAsync(string name, string? parentName, string directory, CancellationToken cancellationToken);

    /// <summary>The last committed snapshot backed by <paramref name="source"/> was removed.</summary>
    Task ReleaseAsync(LayerSource source, CancellationToken cancellationToken);
}

/// <summary>A layer containerd is about to unpack, as a provider sees it.</summary>
/// <param name="Key">The key of the active (or view) snapshot containerd asked for.</param>
/// <param name="Parent">The parent's name (a chain ID), or null for the first layer.</param>
/// <param name="ParentSource">How the parent is backed, or null for the first layer or a parent in the snapshotter's own directories.</param>
/// <param name="ChainId">The value of <c>containerd.io/snapshot.ref</c>.</param>
/// <param name="Labels">Every label of the request (the CRI labels among them).</param>
public sealed record LayerRequest(string Key, string? Parent, LayerSource? ParentSource, string ChainId, IReadOnlyDictionary<string, string> Labels);

/// <summary>What backs a committed snapshot that a provider serves; stored in the snapshotter's metadata (keep it small).</summary>
/// <param name="Provider">The <see cref="ILayerProvider.Name"/> that serves it.</param>
/// <param name="Properties">What the provider needs to find it again after a restart (e.g. chain ID, image, manifest digest, depth).</param>
public sealed record LayerSource(string Provider, IReadOnlyDictionary<string, string> Properties);

/// <summary>The lower directories a committed snapshot contributes to an overlay.</summary>
/// <param name="Directories">Uppermost first.</param>
/// <param name="CoversParents">True when the directories already hold the parents' content too (a flattened image), so the snapshotter adds no parent below them.</param>
public sealed record LowerDirectories(IReadOnlyList<string> Directories, bool CoversParents);

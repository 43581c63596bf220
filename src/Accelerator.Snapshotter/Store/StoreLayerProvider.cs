using Accelerator.Snapshots;
using Accelerator.Snapshotter.Layers;
using Accelerator.Snapshotter.Remote;
using Microsoft.Extensions.Logging;

namespace Accelerator.Snapshotter.Store;

/// <summary>
/// Shares the snapshot cache's chain-id layer directories with containerd: a layer the store has (warmed by
/// <c>accel cache warm</c>, or adopted from an earlier containerd unpack) is answered without a download, and a layer
/// containerd unpacks is moved into the store when committed, so <c>accel cache</c> reuses it. Each containerd snapshot
/// backed by the store holds its own pin on the layer (<see cref="SnapshotStore.PinLayerAsync"/>), released when
/// containerd removes the snapshot; the layer then stays in the cache until the store evicts it.
/// </summary>
internal sealed partial class StoreLayerProvider(SnapshotStore store, ILogger<StoreLayerProvider> logger, StoreServedImages? served = null, RemoteSnapshotMetrics? metrics = null) : ILayerProvider
{
    /// <summary>The provider's name in <see cref="LayerSource.Provider"/>.</summary>
    public const string ProviderName = "store";

    /// <summary>The <see cref="LayerSource"/> property holding the layer's chain ID.</summary>
    public const string ChainIdProperty = "chainId";

    /// <summary>The <see cref="LayerSource"/> property holding the snapshot's pin on the layer.</summary>
    public const string PinProperty = "pin";

    /// <summary>The directory of short links to layer trees, under the store's root.</summary>
    public const string ShortLinksDirectory = "l";

    private readonly ILogger _logger = logger;

    /// <inheritdoc/>
    public string Name => ProviderName;

    /// <inheritdoc/>
    /// <remarks>First: a layer already on the node's disk beats any download, lazy or not.</remarks>
    public int Order => 0;

    /// <inheritdoc/>
    public async Task<LayerSource?> TryProvideAsync(LayerRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (!Digest.TryParse(request.ChainId, out var chainId) || store.FindLayer(chainId) is not { } layer)
        {
            return null;
        }

        // The same chain ID means the same parents, but a store layer is only stacked on the parent it was built on.
        Digest? parent = ParentChainId(request.Parent, request.ParentSource);
        if (layer.Parent != parent)
        {
            LogParentMismatch(chainId, layer.Parent?.ToString() ?? "none", request.Parent ?? "none");
            return null;
        }

        string pin = NewPin();
        if (await store.PinLayerAsync(chainId, pin, cancellationToken).ConfigureAwait(false) is null)
        {
            return null;
        }

        LogProvided(chainId, request.Key);
        // Visible like a remote decision: one per image (its first layer served here), in the status and the metrics.
        if (served?.Record(request.Labels) == true)
        {
            metrics?.Decided("cache", "store-layers", null);
        }

        return Source(chainId, pin);
    }

    /// <inheritdoc/>
    /// <remarks>
    /// The directory is a short link, <c>STORE/l/HEX16</c> → <c>../layers/HEX/fs</c> (as Docker's overlay2 does with its
    /// <c>l/</c> directory): containerd passes every lower directory in one mount option page (shortened to paths relative
    /// to their common parent), and 64-hex layer paths would fit only about fifty layers there.
    /// </remarks>
    public Task<LowerDirectories> ResolveLowerAsync(LayerSource source, CancellationToken cancellationToken)
    {
        var layer = store.FindLayer(ChainIdOf(source))
            ?? throw new InvalidOperationException($"The snapshot store {store.Root} has no valid layer {ChainIdOf(source)}, though a snapshot pins it; was it removed by hand?");
        return Task.FromResult(new LowerDirectories([ShortPath(layer)], CoversParents: false));
    }

    private string ShortPath(SnapshotLayer layer)
    {
        string links = Path.Combine(store.Root, ShortLinksDirectory);
        string link = Path.Combine(links, layer.ChainId.Encoded[..16]);
        string target = Path.Combine("..", "layers", layer.ChainId.Encoded, "fs");
        try
        {
            if (new FileInfo(link).LinkTarget is { } existing)
            {
                // Another chain ID with the same first 16 hex digits (or a stale link) keeps its link; this layer takes the long path.
                return existing == target ? link : layer.TreePath;
            }

            Directory.CreateDirectory(links);
            // symlink(2) creates the name or fails: never a half-made link.
            File.CreateSymbolicLink(link, target);
            return link;
        }
        catch (IOException)
        {
            // Lost a race for the same link: read what won.
            return new FileInfo(link).LinkTarget == target ? link : layer.TreePath;
        }
    }

    /// <inheritdoc/>
    public async Task<LayerSource?> TryAdoptAsync(string name, string? parentName, string directory, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentException.ThrowIfNullOrEmpty(directory);
        if (ChainIdOfName(name) is not { } chainId)
        {
            return null;
        }

        Digest? parent = null;
        if (parentName is not null)
        {
            // Only a chain the store holds down to its first layer can be stacked from the store alone.
            if (ChainIdOfName(parentName) is not { } p || store.FindLayer(p) is null)
            {
                return null;
            }

            parent = p;
        }

        string pin = NewPin();
        var layer = await store.AdoptLayerAsync(chainId, parent, directory, pin, cancellationToken).ConfigureAwait(false);
        LogAdopted(chainId, layer.SizeBytes);
        return Source(chainId, pin);
    }

    /// <inheritdoc/>
    public async Task ReleaseAsync(LayerSource source, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(source);
        if (source.Properties.TryGetValue(PinProperty, out string? pin))
        {
            await store.UnpinLayerAsync(ChainIdOf(source), pin, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// The chain ID a snapshot name ends with. containerd's metadata store hands a proxy snapshotter names of the form
    /// <c>NAMESPACE/SEQUENCE/NAME</c> (its <c>createKey</c>), and the bare <c>containerd.io/snapshot.ref</c> value for
    /// remote snapshots; the unpacker's NAME is the chain ID. Null when the name ends with anything else.
    /// </summary>
    internal static Digest? ChainIdOfName(string name)
    {
        string last = name[(name.LastIndexOf('/') + 1)..];
        return last.StartsWith("sha256:", StringComparison.Ordinal) && Digest.TryParse(last, out var digest) ? digest : null;
    }

    private static Digest? ParentChainId(string? parentName, LayerSource? parentSource)
    {
        if (parentName is null)
        {
            return null;
        }

        return parentSource is { Provider: ProviderName } && parentSource.Properties.TryGetValue(ChainIdProperty, out string? value) && Digest.TryParse(value, out var own)
            ? own
            : ChainIdOfName(parentName);
    }

    private static Digest ChainIdOf(LayerSource source)
        => source.Properties.TryGetValue(ChainIdProperty, out string? value) && Digest.TryParse(value, out var chainId)
            ? chainId
            : throw new ArgumentException($"The layer source of '{source.Provider}' names no valid chain ID.", nameof(source));

    private static LayerSource Source(Digest chainId, string pin)
        => new(ProviderName, new Dictionary<string, string>(StringComparer.Ordinal) { [ChainIdProperty] = chainId.ToString(), [PinProperty] = pin });

    // One pin per containerd snapshot: two namespaces' snapshots of one layer release it independently.
    private static string NewPin() => "snapshot-" + Guid.NewGuid().ToString("N");

    [LoggerMessage(Level = LogLevel.Information, Message = "Layer {ChainId} served from the snapshot store for {Key}: containerd downloads nothing for it.")]
    private partial void LogProvided(Digest chainId, string key);

    [LoggerMessage(Level = LogLevel.Information, Message = "Layer {ChainId} unpacked by containerd moved into the snapshot store ({Bytes} bytes).")]
    private partial void LogAdopted(Digest chainId, long bytes);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The snapshot store's layer {ChainId} lies on {StoreParent}, not on the requested parent {Parent}; containerd unpacks it.")]
    private partial void LogParentMismatch(Digest chainId, string storeParent, string parent);
}

using System.Collections.Concurrent;
using Accelerator.Snapshotter.Layers;

namespace Accelerator.Snapshotter.Tests.Support;

/// <summary>
/// A layer provider over plain directories, standing in for the real ones (snapshot store, remote images) to pin down
/// what the snapshotter asks of any provider: it serves the chain IDs in <see cref="Layers"/> and adopts committed layers
/// into <see cref="StoreDirectory"/>.
/// </summary>
internal sealed class DirectoryLayerProvider(string storeDirectory) : ILayerProvider
{
    public string Name => "directories";

    public int Order => 0;

    public string StoreDirectory { get; } = storeDirectory;

    /// <summary>Chain ID → (directory, whether it holds the parents' content too).</summary>
    public ConcurrentDictionary<string, (string Directory, bool CoversParents)> Layers { get; } = new(StringComparer.Ordinal);

    public ConcurrentQueue<LayerRequest> Requests { get; } = new();

    public ConcurrentQueue<LayerSource> Released { get; } = new();

    public bool Adopt { get; set; }

    public bool Fail { get; set; }

    public Task<LayerSource?> TryProvideAsync(LayerRequest request, CancellationToken cancellationToken)
    {
        Requests.Enqueue(request);
        if (Fail)
        {
            throw new InvalidOperationException("provider failure");
        }

        return Task.FromResult(Layers.ContainsKey(request.ChainId) ? Source(request.ChainId) : null);
    }

    public Task<LowerDirectories> ResolveLowerAsync(LayerSource source, CancellationToken cancellationToken)
    {
        var (directory, coversParents) = Layers[source.Properties["chain"]];
        return Task.FromResult(new LowerDirectories([directory], coversParents));
    }

    public Task<LayerSource?> TryAdoptAsync(string name, string? parentName, string directory, CancellationToken cancellationToken)
    {
        if (!Adopt)
        {
            return Task.FromResult<LayerSource?>(null);
        }

        string target = Path.Combine(StoreDirectory, name.Replace(':', '-'));
        Directory.CreateDirectory(StoreDirectory);
        Directory.Move(directory, target);
        Layers[name] = (target, false);
        return Task.FromResult<LayerSource?>(Source(name));
    }

    public Task ReleaseAsync(LayerSource source, CancellationToken cancellationToken)
    {
        Released.Enqueue(source);
        return Task.CompletedTask;
    }

    private static LayerSource Source(string chainId) => new("directories", new Dictionary<string, string> { ["chain"] = chainId });
}

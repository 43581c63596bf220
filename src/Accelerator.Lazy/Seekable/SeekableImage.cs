using Accelerator.Chunks.Statistics;
using Accelerator.Lazy.Statistics;
using Accelerator.Seekable;
using Accelerator.Seekable.Gzip;
using Accelerator.Seekable.Stargz;
using Accelerator.Seekable.ZstdChunked;

namespace Accelerator.Lazy.Seekable;

/// <summary>
/// An unconverted image ready to mount lazily: each layer's <see cref="SeekableLayerIndex"/> loaded as its
/// <see cref="SeekableMountPlan"/> says (the artifact's index, the layer's TOC, or the whole small layer fetched,
/// verified against its digest and indexed now), with each layer's counting blob source and statistics, and the verified
/// units of the layers fetched whole, to prime the cache with.
/// </summary>
internal sealed class SeekableImage
{
    // What a mount keeps in memory of the layers it fetched whole, to prime the cache with; units beyond it are fetched
    // again by ranged requests when read (the index built from the verified layer says where they lie).
    private const long MaxPrimedBytes = 256L << 20;

    // A small layer is at most MaxWholeLayerBytes compressed; this bounds what it may inflate to (a gzip bomb is refused).
    private const long MaxWholeLayerInflation = 64;

    private SeekableImage(SeekableMountPlan plan, IReadOnlyList<SeekableLayerIndex> layers, IReadOnlyList<(IBlobSource Source, BlobAddress Address)> blobs,
        IReadOnlyList<LazyLayerStatistics> statistics, IReadOnlyList<(int Layer, SeekableUnit Unit, byte[] Bytes)> primed)
    {
        Plan = plan;
        Layers = layers;
        Blobs = blobs;
        Statistics = statistics;
        Primed = primed;
    }

    public SeekableMountPlan Plan { get; }

    public IReadOnlyList<SeekableLayerIndex> Layers { get; }

    public IReadOnlyList<(IBlobSource Source, BlobAddress Address)> Blobs { get; }

    public IReadOnlyList<LazyLayerStatistics> Statistics { get; }

    public IReadOnlyList<(int Layer, SeekableUnit Unit, byte[] Bytes)> Primed { get; }

    /// <summary>
    /// Loads every layer's index. <paramref name="blobs"/> is the store's blob source (counted per layer here);
    /// <paramref name="sourceName"/> and <paramref name="mount"/> count the bytes into the mount's statistics too.
    /// </summary>
    /// <exception cref="InvalidOperationException">The plan cannot mount the image.</exception>
    /// <exception cref="InvalidDataException">An index, TOC or layer is invalid or lies.</exception>
    /// <exception cref="DigestMismatchException">A layer fetched whole does not match its digest.</exception>
    public static async Task<SeekableImage> LoadAsync(
        SeekableMountPlan plan, IBlobSource blobs, string sourceName, MountStatistics mount, long maxWholeLayerBytes, CancellationToken cancellationToken)
    {
        if (!plan.CanMount)
        {
            throw new InvalidOperationException($"{plan.Image.Image} cannot be mounted lazily: {plan.Reason}");
        }

        var counted = new CountingBlobSource(blobs, sourceName, mount);
        int count = plan.Layers.Count;
        var layers = new SeekableLayerIndex[count];
        var sources = new (IBlobSource Source, BlobAddress Address)[count];
        var statistics = new LazyLayerStatistics[count];
        var primed = new List<(int Layer, SeekableUnit Unit, byte[] Bytes)>[count];
        long primedBytes = 0;
        string repository = plan.Image.Image.Repository;
        await Parallel.ForEachAsync(Enumerable.Range(0, count), new ParallelOptions { MaxDegreeOfParallelism = 4, CancellationToken = cancellationToken }, async (i, token) =>
        {
            SeekableLayerPlan layer = plan.Layers[i];
            var address = BlobAddress.For(repository, layer.Descriptor);
            var layerStatistics = new LazyLayerStatistics(i, layer.Descriptor.Digest, layer.Descriptor.Size, layer.SourceName, layer.SourceName);
            var source = new LayerBlobSource(counted, layerStatistics);
            var units = new List<(int Layer, SeekableUnit Unit, byte[] Bytes)>();
            SeekableLayerIndex index = layer.Source switch
            {
                SeekableLayerSource.Index => await plan.Artifact!.ReadLayerIndexAsync(layer.Descriptor, token).ConfigureAwait(false)
                    ?? throw new InvalidDataException($"The seekable index artifact of {plan.Image.Image} lists layer {i} {layer.Descriptor.Digest} but has no index for it."),
                SeekableLayerSource.Estargz => await EstargzLayerIndex.TryOpenAsync(source, address, layer.Descriptor, token).ConfigureAwait(false)
                    ?? throw new InvalidDataException($"Layer {i} {layer.Descriptor.Digest} of {plan.Image.Image} is not an eStargz layer after all."),
                SeekableLayerSource.ZstdChunked => await ZstdChunkedLayerIndex.TryOpenAsync(source, address, layer.Descriptor, token).ConfigureAwait(false)
                    ?? throw new InvalidDataException($"Layer {i} {layer.Descriptor.Digest} of {plan.Image.Image} is not a zstd:chunked layer after all."),
                _ => await IndexWholeAsync(source, address, layer, maxWholeLayerBytes, units, bytes => Interlocked.Add(ref primedBytes, bytes) <= MaxPrimedBytes, token).ConfigureAwait(false),
            };
            layers[i] = index;
            layerStatistics.Format = index.Format;
            sources[i] = (source, address);
            statistics[i] = layerStatistics;
            primed[i] = units;
        }).ConfigureAwait(false);

        return new SeekableImage(plan, layers, sources, statistics, [.. primed.SelectMany(p => p)]);
    }

    // A small layer without an index: fetched whole (verified against its digest by the builder) and indexed; its units'
    // verified bytes are kept to prime the cache — only once the build returned, so a layer that fails its digest
    // primes nothing.
    private static async Task<SeekableLayerIndex> IndexWholeAsync(
        IBlobSource source, BlobAddress address, SeekableLayerPlan layer, long maxWholeLayerBytes,
        List<(int Layer, SeekableUnit Unit, byte[] Bytes)> primed, Func<long, bool> reserve, CancellationToken cancellationToken)
    {
        var pending = new List<(int Layer, SeekableUnit Unit, byte[] Bytes)>();
        await using Stream blob = await source.OpenReadAsync(address, cancellationToken).ConfigureAwait(false);
        var options = new GzipIndexOptions { MaxUncompressedBytes = Math.Max(maxWholeLayerBytes, 1L << 20) * MaxWholeLayerInflation };
        GzipLayerIndex index = await GzipIndexBuilder.BuildAsync(blob, layer.Descriptor, options, (unit, bytes) =>
        {
            if (reserve(bytes.Length))
            {
                pending.Add((layer.Layer, unit, bytes.ToArray()));
            }

            return ValueTask.CompletedTask;
        }, cancellationToken).ConfigureAwait(false);
        primed.AddRange(pending);
        return index;
    }
}

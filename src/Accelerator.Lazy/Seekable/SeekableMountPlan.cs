using System.Globalization;
using Accelerator.Oci.Model;
using Accelerator.Oci.Resolution;
using Accelerator.Seekable.Index;
using Accelerator.Seekable.Stargz;
using Accelerator.Seekable.ZstdChunked;

namespace Accelerator.Lazy.Seekable;

/// <summary>Where the lazy strategy takes one layer of an unconverted image from.</summary>
public enum SeekableLayerSource
{
    /// <summary>The layer's gzip (or tar) index, from the seekable index artifact beside the image (<c>accel index</c>).</summary>
    Index,

    /// <summary>The layer is eStargz: read through its own TOC.</summary>
    Estargz,

    /// <summary>The layer is zstd:chunked: read through its own TOC.</summary>
    ZstdChunked,

    /// <summary>A small gzip or tar layer without an index: fetched whole at mount, verified and indexed then.</summary>
    Whole,
}

/// <summary>The plan for one layer: where it comes from and why, or why it cannot be read lazily.</summary>
/// <param name="Layer">The layer's position, 0 for the bottom layer.</param>
/// <param name="Descriptor">The layer as the manifest lists it.</param>
/// <param name="Source">Where it is read from; null when the layer cannot be read lazily.</param>
/// <param name="Reason">Why this source (or, when <paramref name="Source"/> is null, why none), for logs and fallbacks.</param>
public sealed record SeekableLayerPlan(int Layer, Descriptor Descriptor, SeekableLayerSource? Source, string Reason)
{
    /// <summary>The name of <see cref="Source"/> in statistics: <c>index</c>, <c>estargz</c>, <c>zstd:chunked</c>, <c>whole</c>.</summary>
    public string SourceName => Source switch
    {
        SeekableLayerSource.Index => "index",
        SeekableLayerSource.Estargz => "estargz",
        SeekableLayerSource.ZstdChunked => "zstd:chunked",
        SeekableLayerSource.Whole => "whole",
        _ => "none",
    };
}

/// <summary>
/// How the lazy strategy would mount an image nobody converted: per layer, bottom to top, the artifact's gzip index
/// when it lists the layer, else the layer's own TOC when it is eStargz or zstd:chunked, else — for a gzip or tar layer
/// of at most <see cref="Mounting.LazyMountOptions.MaxWholeLayerBytes"/> — the whole layer fetched at mount; otherwise the image
/// cannot be mounted lazily and <see cref="Reason"/> names the first layer in the way. At least one layer must be
/// seekable (index or TOC): an image all of whose layers would be fetched whole is left to the other strategies. Planning reads the manifest,
/// the config and the referrers only (no layer bytes, no TOC).
/// </summary>
public sealed class SeekableMountPlan
{
    private SeekableMountPlan(ResolvedImage image, SeekableIndexArtifact? artifact, string indexDescription, IReadOnlyList<SeekableLayerPlan> layers)
    {
        Image = image;
        Artifact = artifact;
        IndexDescription = indexDescription;
        Layers = layers;
    }

    /// <summary>The image: manifest (of the platform) and config.</summary>
    public ResolvedImage Image { get; }

    /// <summary>The seekable index artifact found for the manifest, or null.</summary>
    public SeekableIndexArtifact? Artifact { get; }

    /// <summary>How the artifact was found ("referrers API", "referrers tag sha256-…") or why none was.</summary>
    public string IndexDescription { get; }

    /// <summary>One plan per layer, bottom first.</summary>
    public IReadOnlyList<SeekableLayerPlan> Layers { get; }

    /// <summary>
    /// Whether the image can be mounted lazily: every layer can be read, and at least one through a seekable index or
    /// TOC (an image whose layers would all be fetched whole at mount gains nothing over a full pull).
    /// </summary>
    public bool CanMount => Reason is null;

    /// <summary>Why the image cannot be mounted lazily (the first layer in the way), or null when it can.</summary>
    public string? Reason
    {
        get
        {
            if (Layers.Count == 0)
            {
                return "the image has no layers";
            }

            if (Layers.FirstOrDefault(l => l.Source is null) is { } blocked)
            {
                return blocked.Reason;
            }

            return Layers.Any(l => l.Source is not SeekableLayerSource.Whole)
                ? null
                : string.Create(CultureInfo.InvariantCulture,
                    $"none of its {Layers.Count} layers has a seekable index ({IndexDescription}) or an eStargz or zstd:chunked TOC, so nothing would be read lazily: run accel index");
        }
    }

    /// <summary>
    /// Plans the mount of <paramref name="image"/> (<paramref name="platform"/>, default this machine's) read through
    /// <paramref name="store"/>: resolves its manifest, looks for a seekable index artifact (referrers), and decides
    /// each layer's source.
    /// </summary>
    /// <param name="store">Where the image and its referrers are read.</param>
    /// <param name="image">The image.</param>
    /// <param name="platform">The platform to select from an index; null for this machine's.</param>
    /// <param name="maxWholeLayerBytes">The largest unindexed gzip or tar layer fetched whole at mount.</param>
    /// <param name="cancellationToken">Cancels the planning.</param>
    public static async Task<SeekableMountPlan> CreateAsync(IImageStore store, ImageReference image, Platform? platform, long maxWholeLayerBytes, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(image);
        ResolvedImage resolved = await ImageResolver.ResolveAsync(store, image, platform, cancellationToken).ConfigureAwait(false);
        var (artifact, description) = await SeekableIndexFinder.FindAsync(store, image, resolved.Manifest.Descriptor, cancellationToken).ConfigureAwait(false);
        var layers = new List<SeekableLayerPlan>(resolved.Layers.Count);
        for (int i = 0; i < resolved.Layers.Count; i++)
        {
            layers.Add(PlanLayer(i, resolved.Layers[i], artifact, description, maxWholeLayerBytes));
        }

        return new SeekableMountPlan(resolved, artifact, description, layers);
    }

    private static SeekableLayerPlan PlanLayer(int index, Descriptor layer, SeekableIndexArtifact? artifact, string description, long maxWholeLayerBytes)
    {
        if (artifact is not null && artifact.Indexes(layer.Digest))
        {
            return new SeekableLayerPlan(index, layer, SeekableLayerSource.Index, $"seekable index ({description})");
        }

        if (EstargzLayerIndex.Claims(layer))
        {
            return new SeekableLayerPlan(index, layer, SeekableLayerSource.Estargz, "eStargz layer (its TOC)");
        }

        if (ZstdChunkedLayerIndex.Claims(layer))
        {
            return new SeekableLayerPlan(index, layer, SeekableLayerSource.ZstdChunked, "zstd:chunked layer (its TOC)");
        }

        string kind = KindOf(layer.MediaType);
        string what = string.Create(CultureInfo.InvariantCulture, $"layer {index} {layer.Digest} ({FormatSize(layer.Size)}, {kind})");
        if (kind is not ("tar+gzip" or "tar"))
        {
            return new SeekableLayerPlan(index, layer, null, $"{what} cannot be read lazily: only gzip and tar layers are indexed, and it is neither eStargz nor zstd:chunked");
        }

        if (layer.Size <= maxWholeLayerBytes)
        {
            return new SeekableLayerPlan(index, layer, SeekableLayerSource.Whole, $"no seekable index, small enough to fetch whole at mount (at most {FormatSize(maxWholeLayerBytes)})");
        }

        string why = artifact is null ? description : $"the index artifact ({description}) does not list it";
        return new SeekableLayerPlan(index, layer, null, $"{what} has no seekable index ({why}): run accel index");
    }

    private static string KindOf(string mediaType)
    {
        try
        {
            return MediaTypes.GetLayerCompression(mediaType) switch
            {
                LayerCompression.Gzip => "tar+gzip",
                LayerCompression.None => "tar",
                LayerCompression.Zstd => "tar+zstd",
                var other => other.ToString(),
            };
        }
        catch (NotSupportedException)
        {
            return mediaType;
        }
    }

    /// <summary>A size for reasons: bytes, KiB, MiB or GiB with one decimal.</summary>
    internal static string FormatSize(long bytes) => bytes switch
    {
        < 1024 => string.Create(CultureInfo.InvariantCulture, $"{bytes} B"),
        < 1 << 20 => string.Create(CultureInfo.InvariantCulture, $"{bytes / 1024.0:0.#} KiB"),
        < 1L << 30 => string.Create(CultureInfo.InvariantCulture, $"{bytes / (1024.0 * 1024):0.#} MiB"),
        _ => string.Create(CultureInfo.InvariantCulture, $"{bytes / (1024.0 * 1024 * 1024):0.#} GiB"),
    };
}

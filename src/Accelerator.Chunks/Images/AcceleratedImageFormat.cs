using System.Globalization;
using Accelerator.Oci;
using Accelerator.Oci.Model;
using Accelerator.Oci.Resolution;

namespace Accelerator.Chunks.Images;

/// <summary>
/// How an accelerated image format is stored in a registry or image layout: an OCI image manifest whose first layer is
/// the format's index (a lazy image's bootstrap, a block image's block index) and whose other layers are its data
/// blobs, with the source image's config, a version annotation, and the source manifest's digest in
/// <see cref="AcceleratedVariant.SourceDigestAnnotation"/>. The converted image is tagged <c>TAG</c> +
/// <see cref="TagSuffix"/> beside its source.
/// </summary>
public sealed class AcceleratedImageFormat
{
    /// <summary>The prefix of every media type of the project's formats (<c>application/vnd.accelerator.</c>).</summary>
    public const string MediaTypePrefix = "application/vnd.accelerator.";

    /// <summary>Describes a format.</summary>
    /// <param name="kind">The format's name in messages, e.g. <c>"lazy image"</c>.</param>
    /// <param name="indexName">The first layer's name in messages, e.g. <c>"bootstrap"</c>.</param>
    /// <param name="indexMediaType">The media type of the first layer.</param>
    /// <param name="dataMediaType">The media type of every other layer.</param>
    /// <param name="versionAnnotation">The manifest annotation holding the format version.</param>
    /// <param name="version">The format version a reader understands.</param>
    /// <param name="tagSuffix">The suffix that names the converted image beside its source tag, e.g. <c>"-accel"</c>.</param>
    public AcceleratedImageFormat(string kind, string indexName, string indexMediaType, string dataMediaType, string versionAnnotation, int version, string tagSuffix)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(kind);
        ArgumentException.ThrowIfNullOrWhiteSpace(indexName);
        ArgumentException.ThrowIfNullOrWhiteSpace(indexMediaType);
        ArgumentException.ThrowIfNullOrWhiteSpace(dataMediaType);
        ArgumentException.ThrowIfNullOrWhiteSpace(versionAnnotation);
        ArgumentException.ThrowIfNullOrWhiteSpace(tagSuffix);
        Kind = kind;
        IndexName = indexName;
        IndexMediaType = indexMediaType;
        DataMediaType = dataMediaType;
        VersionAnnotation = versionAnnotation;
        Version = version;
        TagSuffix = tagSuffix;
    }

    /// <summary>The format's name in messages, e.g. <c>"lazy image"</c>.</summary>
    public string Kind { get; }

    /// <summary>The first layer's name in messages, e.g. <c>"bootstrap"</c>.</summary>
    public string IndexName { get; }

    /// <summary>The media type of the first layer.</summary>
    public string IndexMediaType { get; }

    /// <summary>The media type of every other layer.</summary>
    public string DataMediaType { get; }

    /// <summary>The manifest annotation holding the format version.</summary>
    public string VersionAnnotation { get; }

    /// <summary>The format version a reader understands.</summary>
    public int Version { get; }

    /// <summary>The suffix that names the converted image beside its source tag.</summary>
    public string TagSuffix { get; }

    /// <summary>Whether <paramref name="manifest"/> is of this format: the index layer first, data blobs after it.</summary>
    public bool IsManifest(ImageManifest manifest)
    {
        ArgumentNullException.ThrowIfNull(manifest);
        return manifest.Layers.Count >= 1
            && manifest.Layers[0].MediaType == IndexMediaType
            && manifest.Layers.Skip(1).All(l => l.MediaType == DataMediaType);
    }

    /// <summary>
    /// Whether <paramref name="manifest"/> is an image of any of the project's accelerated formats (a layer of a
    /// <see cref="MediaTypePrefix"/> media type): converting it again, or warming it as a source image, makes no sense.
    /// </summary>
    public static bool IsAccelerated(ImageManifest manifest)
    {
        ArgumentNullException.ThrowIfNull(manifest);
        return manifest.Layers.Any(l => l.MediaType.StartsWith(MediaTypePrefix, StringComparison.Ordinal));
    }

    /// <summary>The conventional name of <paramref name="source"/>'s converted image: the same repository (or layout), tag <c>TAG</c> + <see cref="TagSuffix"/>.</summary>
    /// <exception cref="ArgumentException">The source names no tag.</exception>
    public ImageReference VariantOf(ImageReference source)
    {
        ArgumentNullException.ThrowIfNull(source);
        if (source.Tag is null)
        {
            throw new ArgumentException($"{source} has no tag to derive the {Kind}'s tag from; name the target.", nameof(source));
        }

        return source.WithTag(source.Tag + TagSuffix);
    }

    /// <summary>
    /// Resolves <paramref name="image"/> in <paramref name="store"/> (<see cref="AcceleratedImageResolver.ResolveAsync"/>),
    /// checks that it is of this format and version, and fetches its index layer (verified by digest, at most
    /// <paramref name="maxIndexBytes"/>).
    /// </summary>
    /// <exception cref="InvalidDataException">The image is not of this format, or of another version.</exception>
    public async Task<AcceleratedManifest> ReadIndexAsync(
        IImageStore store, ImageReference image, Platform? platform, int maxIndexBytes, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(image);
        ResolvedImage resolved = await AcceleratedImageResolver.ResolveAsync(store, image, platform, cancellationToken).ConfigureAwait(false);
        ImageManifest manifest = resolved.ImageManifest;
        if (!IsManifest(manifest))
        {
            throw new InvalidDataException($"{image} is not a {Kind}: its first layer must be a {IndexMediaType} and the others {DataMediaType}.");
        }

        string? version = manifest.Annotations?.GetValueOrDefault(VersionAnnotation);
        if (version is not null && version != Version.ToString(CultureInfo.InvariantCulture))
        {
            throw new InvalidDataException($"{image} is a {Kind} of format version {version}; this reader understands version {Version}.");
        }

        Descriptor layer = manifest.Layers[0];
        byte[] index = await store.Blobs.ReadAllBytesAsync(BlobAddress.For(image.Repository, layer), maxIndexBytes, cancellationToken).ConfigureAwait(false);
        return new AcceleratedManifest(this, resolved, layer, index);
    }
}

/// <summary>An accelerated image's manifest and its index layer's bytes, as <see cref="AcceleratedImageFormat.ReadIndexAsync"/> read them.</summary>
/// <param name="Format">The image's format.</param>
/// <param name="Image">The resolved manifest and config.</param>
/// <param name="IndexLayer">The first layer: the index.</param>
/// <param name="IndexBytes">The index layer's bytes, verified against its digest.</param>
public sealed record AcceleratedManifest(AcceleratedImageFormat Format, ResolvedImage Image, Descriptor IndexLayer, byte[] IndexBytes)
{
    /// <summary>The data blobs: every layer after the index.</summary>
    public IReadOnlyList<Descriptor> DataLayers => Image.ImageManifest.Layers.Skip(1).ToList();

    /// <summary>Checks that the index's blob table (<paramref name="blobs"/>, in order) is exactly the manifest's data layers.</summary>
    /// <exception cref="InvalidDataException">They differ.</exception>
    public void CheckDataBlobs(IEnumerable<(Digest Digest, long Size)> blobs)
    {
        ArgumentNullException.ThrowIfNull(blobs);
        var layers = DataLayers;
        var table = blobs.ToList();
        if (layers.Count != table.Count || layers.Zip(table).Any(p => p.First.Digest != p.Second.Digest || p.First.Size != p.Second.Size))
        {
            throw new InvalidDataException($"{Image.Image}: the {Format.IndexName}'s data blobs do not match the manifest's layers.");
        }
    }
}

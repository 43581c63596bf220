using System.Globalization;
using Accelerator.Block.Layers;
using Accelerator.Chunks.Images;
using Accelerator.Oci.Model;
using Accelerator.Oci.Resolution;
using Microsoft.Extensions.Logging;

namespace Accelerator.Block.Format;

/// <summary>
/// A block image as stored in a registry or image layout: an OCI image manifest whose first layer is the
/// <see cref="BlockIndex"/> and whose other layers are the data blobs, with the source image's config and an annotation
/// naming the source manifest (<see cref="BlockFormat.ImageFormat"/>). <see cref="LoadAsync"/> fetches and checks the
/// index; <see cref="OpenStack"/> serves it as a virtual disk.
/// </summary>
public sealed class BlockImage : AcceleratedImage
{
    private BlockImage(IImageStore store, ResolvedImage image, BlockIndex index, Digest indexDigest)
        : base(store, image)
    {
        Index = index;
        IndexDigest = indexDigest;
    }

    /// <summary>The index: geometry, stored blocks, layers and prefetch trace.</summary>
    public BlockIndex Index { get; }

    /// <summary>The digest of the index blob (identifies the stack; a copy-on-write layer records it).</summary>
    public Digest IndexDigest { get; }

    /// <summary>The file system in the image, from <see cref="BlockFormat.FileSystemAnnotation"/> (ext4 when absent).</summary>
    public string FileSystem => Image.ImageManifest.Annotations?.GetValueOrDefault(BlockFormat.FileSystemAnnotation) ?? "ext4";

    /// <summary>Whether <paramref name="manifest"/> is a block image: an index layer first, data blobs after it.</summary>
    public static bool IsBlockManifest(ImageManifest manifest) => BlockFormat.ImageFormat.IsManifest(manifest);

    /// <summary>
    /// Resolves <paramref name="image"/>, fetches its index (verified by digest, bounded), reads it, and checks that its
    /// blob table is exactly the manifest's data layers.
    /// </summary>
    /// <exception cref="InvalidDataException">The image is not a block image, or its index is invalid.</exception>
    public static async Task<BlockImage> LoadAsync(IImageStore store, ImageReference image, Platform? platform = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(image);
        AcceleratedManifest found = await BlockFormat.ImageFormat.ReadIndexAsync(store, image, platform, BlockFormat.MaxIndexBodyBytes, cancellationToken).ConfigureAwait(false);
        BlockIndex index = BlockIndex.Read(found.IndexBytes);
        found.CheckDataBlobs(index.Blobs.Select(b => (b.Digest, b.Size)));
        return new BlockImage(store, found.Image, index, found.IndexLayer.Digest);
    }

    /// <summary>
    /// Opens the image as a read-only virtual disk whose blocks are fetched on demand through <paramref name="source"/>
    /// (default: the store's own blob source).
    /// </summary>
    public BlockLayerStack OpenStack(BlockStackOptions options, IBlobSource? source = null, ILogger<BlockLayerStack>? logger = null, TimeProvider? timeProvider = null)
        => BlockLayerStack.Open(Index, source ?? Store.Blobs, Reference.Repository, options, logger, timeProvider);

    /// <summary>
    /// Pushes a block image: the data blobs not already there, the index, the config, and a manifest tagged
    /// <paramref name="tag"/>. Returns the manifest digest.
    /// </summary>
    /// <param name="target">Where to push.</param>
    /// <param name="image">The target image (its repository).</param>
    /// <param name="tag">The tag.</param>
    /// <param name="index">The index.</param>
    /// <param name="newBlobs">Files of data blobs that may be missing in the target (others must already be there).</param>
    /// <param name="config">The config descriptor and bytes (the source image's).</param>
    /// <param name="annotations">Manifest annotations (version and block size are added).</param>
    /// <param name="maxParallelUploads">Blobs uploaded at once.</param>
    /// <param name="cancellationToken">Cancels the push.</param>
    public static async Task<Digest> PushAsync(
        IImageStore target, ImageReference image, string tag, BlockIndex index, IReadOnlyList<(BlockBlob Blob, string Path)> newBlobs,
        (Descriptor Descriptor, ReadOnlyMemory<byte> Bytes) config, IReadOnlyDictionary<string, string>? annotations = null,
        int maxParallelUploads = 4, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(target);
        ArgumentNullException.ThrowIfNull(image);
        ArgumentNullException.ThrowIfNull(index);
        ArgumentNullException.ThrowIfNull(newBlobs);
        await Parallel.ForEachAsync(
            newBlobs,
            new ParallelOptions { MaxDegreeOfParallelism = maxParallelUploads, CancellationToken = cancellationToken },
            async (blob, ct) =>
            {
                var descriptor = new Descriptor(BlockFormat.BlocksMediaType, blob.Blob.Digest, blob.Blob.Size);
                if (!await target.BlobExistsAsync(image, descriptor, ct).ConfigureAwait(false))
                {
                    var file = new FileStream(blob.Path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20, FileOptions.Asynchronous | FileOptions.SequentialScan);
                    await using (file.ConfigureAwait(false))
                    {
                        await target.PushBlobAsync(image, descriptor, file, ct).ConfigureAwait(false);
                    }
                }
            }).ConfigureAwait(false);

        byte[] indexBytes = index.ToBytes();
        var indexLayer = Descriptor.FromContent(BlockFormat.IndexMediaType, indexBytes);
        await PushBytesAsync(target, image, indexLayer, indexBytes, cancellationToken).ConfigureAwait(false);
        await PushBytesAsync(target, image, config.Descriptor, config.Bytes, cancellationToken).ConfigureAwait(false);
        var layers = new List<Descriptor> { indexLayer };
        layers.AddRange(index.Blobs.Select(b => new Descriptor(BlockFormat.BlocksMediaType, b.Digest, b.Size)));
        var allAnnotations = new Dictionary<string, string>(annotations ?? new Dictionary<string, string>(), StringComparer.Ordinal)
        {
            [BlockFormat.VersionAnnotation] = BlockFormat.Version.ToString(CultureInfo.InvariantCulture),
            [BlockFormat.BlockSizeAnnotation] = index.BlockSize.ToString(CultureInfo.InvariantCulture),
        };
        var manifest = new ImageManifest
        {
            MediaType = MediaTypes.OciManifest,
            Config = config.Descriptor,
            Layers = layers,
            Annotations = allAnnotations,
        };
        ManifestDocument document = ManifestDocument.From(manifest);
        await target.PushManifestAsync(image, document, tag, cancellationToken).ConfigureAwait(false);
        return document.Digest;
    }

    private static async Task PushBytesAsync(IImageStore target, ImageReference image, Descriptor descriptor, ReadOnlyMemory<byte> bytes, CancellationToken cancellationToken)
    {
        if (!await target.BlobExistsAsync(image, descriptor, cancellationToken).ConfigureAwait(false))
        {
            using var stream = new MemoryStream(bytes.ToArray(), writable: false);
            await target.PushBlobAsync(image, descriptor, stream, cancellationToken).ConfigureAwait(false);
        }
    }
}

using System.Diagnostics;
using System.Globalization;
using Accelerator.Chunks.Format;
using Accelerator.Chunks.Images;
using Accelerator.Lazy.Format;
using Accelerator.Linux;
using Accelerator.Oci.Layers;
using Accelerator.Oci.Model;
using Accelerator.Oci.Registry;
using Accelerator.Oci.Resolution;
using Accelerator.Oci.Validation;

namespace Accelerator.Lazy.Conversion;

/// <summary>
/// Converts an image into a lazy image, streaming: each layer is read once from its blob (verified by digest and
/// diff_id), applied to a metadata-only tree, and its files' data is cut into chunks that are deduplicated,
/// compressed in parallel and spooled to disk — no layer or file is held in memory. The chunks the final tree uses
/// are then packed into data blobs in path order, the bootstrap is built, and everything is pushed to the target
/// with a manifest that keeps the source config. The same input gives byte-identical output.
/// </summary>
public static class LazyConverter
{
    /// <summary>The conventional target of <paramref name="source"/>: the same repository (or layout), tag <c>TAG-accel</c>.</summary>
    /// <exception cref="ArgumentException">The source names no tag.</exception>
    public static ImageReference DefaultTarget(ImageReference source) => LazyFormat.ImageFormat.VariantOf(source);

    /// <summary>Converts <paramref name="sourceImage"/> from <paramref name="source"/> into a lazy image at <paramref name="targetImage"/> in <paramref name="target"/>.</summary>
    /// <param name="source">Where the source image is.</param>
    /// <param name="sourceImage">The source image (a tag or digest; an index is resolved for <see cref="LazyConvertOptions.Platform"/>).</param>
    /// <param name="target">Where to write the lazy image.</param>
    /// <param name="targetImage">The target; it must name a tag.</param>
    /// <param name="options">Chunk size, chunk dictionary, prefetch list, parallelism; defaults when null.</param>
    /// <param name="cancellationToken">Cancels the conversion.</param>
    /// <exception cref="InvalidDataException">A layer is malformed, or the source is already a lazy image.</exception>
    /// <exception cref="DigestMismatchException">A layer does not match its digest or diff_id.</exception>
    public static async Task<LazyConvertResult> ConvertAsync(
        IImageStore source, ImageReference sourceImage, IImageStore target, ImageReference targetImage,
        LazyConvertOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(sourceImage);
        ArgumentNullException.ThrowIfNull(target);
        ArgumentNullException.ThrowIfNull(targetImage);
        options ??= new LazyConvertOptions();
        // The format's own check first, naming the parameter (ChunkSize) as the converter's callers have been told.
        LazyFormat.ValidateChunkSize(options.ChunkSize, nameof(options.ChunkSize));
        new LazyConvertOptionsValidator().ThrowIfOutOfRange(options, "lazy convert");
        string tag = targetImage.Tag ?? throw new ArgumentException($"The target {targetImage} must name a tag.", nameof(targetImage));
        var clock = Stopwatch.StartNew();

        ResolvedImage resolved = await AcceleratedImageResolver.ResolveAsync(source, sourceImage, options.Platform, cancellationToken).ConfigureAwait(false);
        if (LazyImage.IsLazyManifest(resolved.ImageManifest))
        {
            throw new InvalidDataException($"{sourceImage} is already a lazy image.");
        }

        if (resolved.Config.Rootfs is { } rootfs && rootfs.DiffIds.Count != resolved.Layers.Count)
        {
            throw new InvalidDataException(
                $"Image {sourceImage} is inconsistent: its manifest has {resolved.Layers.Count} layers but its config lists {rootfs.DiffIds.Count} diff IDs.");
        }

        foreach (Descriptor layer in resolved.Layers)
        {
            if (!MediaTypes.IsLayer(layer.MediaType))
            {
                throw new NotSupportedException($"Layer {layer.Digest} of {sourceImage} has unsupported media type '{layer.MediaType}'.");
            }
        }

        // A dictionary cut with another chunk size matches little (chunks start at multiples of the size) but is valid.
        LazyBootstrap? dictionary = options.ChunkDictionary?.Bootstrap;

        // 0700: what is staged here is image content (set-user-ID files included) that other users must not reach.
        string work = PrivateDirectory.CreateUnique(options.TempDirectory ?? Path.GetTempPath(), "accel-convert");
        try
        {
            PackedImage packed;
            long duplicates;
            int chunks;
            await using (var store = new ChunkStore(work, options.ChunkSize, options.MaxParallelism, dictionary is null ? null : DictionaryKeys(dictionary)))
            {
                var tree = new FlatTree();
                var chunker = new FileChunker(store);
                try
                {
                    await ReadLayersAsync(source, sourceImage, resolved, tree, chunker, options, cancellationToken).ConfigureAwait(false);
                }
                finally
                {
                    // Stop the compressors before anything is unwound; a compression error surfaces here.
                    await store.CompleteAsync().ConfigureAwait(false);
                }

                packed = BootstrapAssembler.Assemble(
                    tree, store, dictionary, options.PrefetchPaths, work, options.DataBlobSize,
                    options.Progress is { } progress ? done => progress.Report(new LazyConvertProgress("pack", done, -1)) : null,
                    cancellationToken);
                duplicates = store.DuplicateReferences;
                chunks = packed.Bootstrap.ChunkCount;
            }

            Digest manifestDigest = await PushAsync(target, targetImage, tag, resolved, packed, options, cancellationToken).ConfigureAwait(false);
            long reused = 0;
            for (int i = 0; i < packed.Bootstrap.ChunkCount; i++)
            {
                LazyChunk chunk = packed.Bootstrap.GetChunk(i);
                if (chunk.BlobIndex < packed.DictionaryBlobs.Count)
                {
                    reused += chunk.CompressedSize;
                }
            }

            return new LazyConvertResult
            {
                Target = targetImage,
                ManifestDigest = manifestDigest,
                SourceDigest = resolved.Manifest.Digest,
                Bootstrap = packed.Bootstrap,
                BootstrapSize = packed.BootstrapBlob.Length,
                DataBlobs = packed.NewBlobs.Count,
                DataBytes = packed.NewBlobs.Sum(b => b.Size),
                ReusedBlobs = packed.DictionaryBlobs.Count,
                ReusedBytes = reused,
                SourceLayerBytes = resolved.Layers.Sum(l => l.Size),
                FileBytes = packed.Bootstrap.FileBytes,
                Chunks = chunks,
                DuplicateReferences = duplicates,
                PrefetchMissing = packed.PrefetchMissing,
                Elapsed = clock.Elapsed,
            };
        }
        finally
        {
            try
            {
                Directory.Delete(work, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }

    private static Dictionary<ChunkKey, int> DictionaryKeys(LazyBootstrap dictionary)
    {
        var keys = new Dictionary<ChunkKey, int>(dictionary.ChunkCount);
        for (int i = 0; i < dictionary.ChunkCount; i++)
        {
            keys.TryAdd(ChunkKey.From(dictionary.RawChunkDigest(i)), i);
        }

        return keys;
    }

    private static async Task ReadLayersAsync(
        IImageStore source, ImageReference sourceImage, ResolvedImage resolved, FlatTree tree, FileChunker chunker,
        LazyConvertOptions options, CancellationToken cancellationToken)
    {
        long total = resolved.Layers.Sum(l => l.Size);
        long before = 0;
        IReadOnlyList<Digest>? diffIds = options.VerifyDiffIds ? resolved.Config.Rootfs?.DiffIds : null;
        for (int i = 0; i < resolved.Layers.Count; i++)
        {
            Descriptor layer = resolved.Layers[i];
            long start = before;
            Stream blob = await source.Blobs.OpenReadAsync(BlobAddress.For(sourceImage.Repository, layer), cancellationToken).ConfigureAwait(false);
            await using (blob.ConfigureAwait(false))
            {
                var counted = new LayerReadStream(blob, null, options.Progress is { } progress ? n => progress.Report(new LazyConvertProgress("read", start + n, total)) : null);
                Stream tar = LayerStreams.OpenDecompressed(counted, MediaTypes.GetLayerCompression(layer.MediaType), options.MaxLayerBytes, leaveOpen: true);
                await using (tar.ConfigureAwait(false))
                {
                    var hashed = new LayerReadStream(tar, diffIds?[i], null);
                    var reader = new LayerTarReader(hashed, new LayerTarReaderOptions { MaxEntries = options.MaxEntriesPerLayer }, leaveOpen: true);
                    await using (reader.ConfigureAwait(false))
                    {
                        await tree.ApplyLayerAsync(reader, chunker, cancellationToken).ConfigureAwait(false);
                    }

                    // The diff_id covers the whole uncompressed stream, end-of-archive blocks included; reading the
                    // blob to its end lets the source verify its digest.
                    await hashed.CopyToAsync(Stream.Null, cancellationToken).ConfigureAwait(false);
                    hashed.Verify($"layer {layer.Digest}");
                }

                await counted.CopyToAsync(Stream.Null, cancellationToken).ConfigureAwait(false);
            }

            before += layer.Size;
        }
    }

    private static async Task<Digest> PushAsync(
        IImageStore target, ImageReference targetImage, string tag, ResolvedImage resolved, PackedImage packed,
        LazyConvertOptions options, CancellationToken cancellationToken)
    {
        var bootstrapLayer = Descriptor.FromContent(LazyFormat.BootstrapMediaType, packed.BootstrapBlob);
        var layers = new List<Descriptor> { bootstrapLayer };
        layers.AddRange(packed.Bootstrap.Blobs.Select(b => new Descriptor(LazyFormat.ChunksMediaType, b.Digest, b.Size)));

        long total = packed.NewBlobs.Sum(b => b.Size) + packed.BootstrapBlob.Length;
        long done = 0;
        void Pushed(long bytes) => options.Progress?.Report(new LazyConvertProgress("push", Interlocked.Add(ref done, bytes), total));

        await Parallel.ForEachAsync(
            packed.NewBlobs,
            new ParallelOptions { MaxDegreeOfParallelism = options.MaxParallelUploads, CancellationToken = cancellationToken },
            async (blob, ct) =>
            {
                var descriptor = new Descriptor(LazyFormat.ChunksMediaType, blob.Digest, blob.Size);
                if (!await target.BlobExistsAsync(targetImage, descriptor, ct).ConfigureAwait(false))
                {
                    var file = new FileStream(blob.Path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20, FileOptions.Asynchronous | FileOptions.SequentialScan);
                    await using (file.ConfigureAwait(false))
                    {
                        await target.PushBlobAsync(targetImage, descriptor, file, ct).ConfigureAwait(false);
                    }
                }

                Pushed(blob.Size);
            }).ConfigureAwait(false);

        await PushBytesAsync(target, targetImage, bootstrapLayer, packed.BootstrapBlob, cancellationToken).ConfigureAwait(false);
        Pushed(packed.BootstrapBlob.Length);
        Descriptor config = resolved.ImageManifest.Config;
        await PushBytesAsync(target, targetImage, config, resolved.ConfigBytes, cancellationToken).ConfigureAwait(false);
        foreach (LazyBlob blob in packed.DictionaryBlobs)
        {
            await CopyDictionaryBlobAsync(target, targetImage, options.ChunkDictionary!, blob, cancellationToken).ConfigureAwait(false);
        }

        var manifest = new ImageManifest
        {
            MediaType = MediaTypes.OciManifest,
            Config = config,
            Layers = layers,
            Annotations = new Dictionary<string, string>(StringComparer.Ordinal)
            {
                [LazyFormat.SourceDigestAnnotation] = resolved.Manifest.Digest.ToString(),
                [LazyFormat.VersionAnnotation] = LazyFormat.Version.ToString(CultureInfo.InvariantCulture),
                [LazyFormat.ChunkSizeAnnotation] = packed.Bootstrap.ChunkSize.ToString(CultureInfo.InvariantCulture),
            },
        };
        ManifestDocument document = ManifestDocument.From(manifest);
        await target.PushManifestAsync(targetImage, document, tag, cancellationToken).ConfigureAwait(false);
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

    // The image must be complete in its own repository: a dictionary blob it uses is mounted (same registry) or copied.
    private static async Task CopyDictionaryBlobAsync(IImageStore target, ImageReference targetImage, LazyImage dictionary, LazyBlob blob, CancellationToken cancellationToken)
    {
        var descriptor = new Descriptor(LazyFormat.ChunksMediaType, blob.Digest, blob.Size);
        if (await target.BlobExistsAsync(targetImage, descriptor, cancellationToken).ConfigureAwait(false))
        {
            return;
        }

        if (target is RegistryImageStore registry && dictionary.Store is RegistryImageStore from
            && string.Equals(registry.Registry, from.Registry, StringComparison.OrdinalIgnoreCase)
            && await registry.Client.MountBlobAsync(registry.Registry, targetImage.Repository, blob.Digest, dictionary.Reference.Repository, cancellationToken).ConfigureAwait(false))
        {
            return;
        }

        Stream content = await dictionary.Store.Blobs.OpenReadAsync(dictionary.GetBlobAddress(blob.Digest), cancellationToken).ConfigureAwait(false);
        await using (content.ConfigureAwait(false))
        {
            await target.PushBlobAsync(targetImage, descriptor, content, cancellationToken).ConfigureAwait(false);
        }
    }
}

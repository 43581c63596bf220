using System.Diagnostics;
using Accelerator.Oci.Layers;
using Accelerator.Oci.Model;
using Accelerator.Oci.Validation;
using Accelerator.Seekable.Gzip;
using Accelerator.Seekable.Stargz;
using Accelerator.Seekable.ZstdChunked;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Accelerator.Seekable.Index;

/// <summary>
/// What <c>accel index</c> runs: resolves the image's manifest (the platform's, for an index), builds a
/// <see cref="GzipLayerIndex"/> for every gzip or uncompressed tar layer of at least
/// <see cref="SeekableIndexerOptions.MinLayerSize"/> that is not eStargz or zstd:chunked (those are read natively),
/// publishes the artifact beside the image (<see cref="SeekableIndexPublisher"/>) and reports sizes, spans, build
/// times and, with a prefetch list, the start-read amplification.
/// </summary>
public static partial class SeekableIndexer
{
    /// <summary>Indexes <paramref name="image"/> in <paramref name="store"/> and publishes the index there.</summary>
    /// <exception cref="ArgumentException">An option is invalid.</exception>
    /// <exception cref="DigestMismatchException">A layer blob does not match its digest (nothing is published).</exception>
    public static async Task<SeekableIndexReport> IndexAsync(
        IImageStore store, ImageReference image, SeekableIndexerOptions? options = null,
        ILogger? logger = null, TimeProvider? time = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(image);
        options ??= new SeekableIndexerOptions();
        new SeekableIndexerOptionsValidator().ThrowIfInvalid(options, "seekable indexer");
        logger ??= NullLogger.Instance;
        time ??= TimeProvider.System;

        var manifest = await ResolveManifestAsync(store, image, options.Platform, cancellationToken).ConfigureAwait(false);
        var layers = manifest.Manifest!.Layers;
        var reports = new List<SeekableIndexLayerReport>(layers.Count);
        var indexes = new List<GzipLayerIndex>();
        foreach (var layer in layers)
        {
            if (SkipReason(layer, options) is { } reason)
            {
                reports.Add(new SeekableIndexLayerReport(layer.Digest, layer.MediaType, layer.Size, Indexed: false, reason));
                LogLayerSkipped(logger, layer.Digest.ToString(), reason);
                continue;
            }

            if (indexes.Any(i => i.Layer.Digest == layer.Digest))
            {
                reports.Add(new SeekableIndexLayerReport(layer.Digest, layer.MediaType, layer.Size, Indexed: false, "the same blob as a lower layer, indexed once"));
                continue;
            }

            long started = time.GetTimestamp();
            GzipLayerIndex index;
            try
            {
                var stream = await store.Blobs.OpenReadAsync(BlobAddress.For(image.Repository, layer), cancellationToken).ConfigureAwait(false);
                await using (stream.ConfigureAwait(false))
                {
                    index = await GzipIndexBuilder.BuildAsync(stream, layer, new GzipIndexOptions { SpanSize = options.SpanSize }, cancellationToken: cancellationToken).ConfigureAwait(false);
                }
            }
            catch (Exception ex) when (ex is NotSupportedException or InvalidDataException)
            {
                // A layer the builder cannot index (sparse entries, not a tar): the mounter treats it as unindexed.
                string why = "not indexable: " + ex.Message;
                reports.Add(new SeekableIndexLayerReport(layer.Digest, layer.MediaType, layer.Size, Indexed: false, why));
                LogLayerSkipped(logger, layer.Digest.ToString(), why);
                continue;
            }

            var elapsed = time.GetElapsedTime(started);
            long indexBytes = index.ToBytes().LongLength;
            indexes.Add(index);
            reports.Add(new SeekableIndexLayerReport(layer.Digest, layer.MediaType, layer.Size, Indexed: true, null)
            {
                Format = index.Format,
                Spans = index.Units.Count,
                IndexBytes = indexBytes,
                BuildTime = elapsed,
            });
            LogLayerIndexed(logger, layer.Digest.ToString(), index.Units.Count, indexBytes, (long)elapsed.TotalMilliseconds);
        }

        var report = new SeekableIndexReport(image.ToString(), manifest.Digest, reports)
        {
            SpanSize = options.SpanSize,
            StartRead = options.PrefetchList is { Count: > 0 } list ? MeasureStartRead(indexes, list) : null,
        };
        if (indexes.Count == 0 || !options.Publish)
        {
            return report;
        }

        var (artifact, listing) = await SeekableIndexPublisher.PublishAsync(
            store, image, manifest.Descriptor, indexes, options.SpanSize, options.PrefetchList, time, cancellationToken).ConfigureAwait(false);
        LogPublished(logger, image.ToString(), artifact.Digest.ToString(), listing);
        return report with { Artifact = artifact.Digest, Listing = listing };
    }

    /// <summary>
    /// The start-read amplification of <paramref name="paths"/>: for each path, the regular file that the topmost indexed
    /// layer holding it has there; the compressed bytes of the units its data overlaps (each unit once) over the files'
    /// bytes.
    /// </summary>
    public static SeekableStartReadAmplification MeasureStartRead(IReadOnlyList<SeekableLayerIndex> layers, IReadOnlyList<string> paths)
    {
        ArgumentNullException.ThrowIfNull(layers);
        ArgumentNullException.ThrowIfNull(paths);
        var files = new Dictionary<string, (int Layer, SeekableEntry Entry)>(StringComparer.Ordinal);
        for (int i = 0; i < layers.Count; i++)
        {
            foreach (var entry in layers[i].Entries)
            {
                string path = Normalize(entry.Header.Path);
                int slash = path.LastIndexOf('/');
                if (path.AsSpan(slash + 1).StartsWith(".wh.", StringComparison.Ordinal))
                {
                    // A whiteout hides the lower path it names (an opaque marker hides what only lower layers list).
                    files.Remove(path[..(slash + 1)] + path[(slash + 1 + 4)..]);
                    continue;
                }

                if (entry.Header.Kind == TarEntryKind.RegularFile)
                {
                    files[path] = (i, entry);
                }
                else
                {
                    // A later layer's non-file (or whiteout) at the path hides the lower file.
                    files.Remove(path);
                }
            }
        }

        var units = new HashSet<(int Layer, int Unit)>();
        int found = 0, missing = 0;
        long fileBytes = 0, fetched = 0;
        foreach (string path in paths.Distinct(StringComparer.Ordinal))
        {
            if (!files.TryGetValue(Normalize(path), out var file))
            {
                missing++;
                continue;
            }

            found++;
            fileBytes += file.Entry.Header.Size;
            var layer = layers[file.Layer];
            long end = file.Entry.DataOffset + file.Entry.Header.Size;
            for (int u = file.Entry.Header.Size == 0 ? -1 : layer.FindUnit(file.Entry.DataOffset); u >= 0 && u < layer.Units.Count && layer.Units[u].DataOffset < end; u++)
            {
                if (units.Add((file.Layer, u)))
                {
                    fetched += layer.Units[u].CompressedLength;
                }
            }
        }

        return new SeekableStartReadAmplification(found, missing, fileBytes, fetched);
    }

    private static string Normalize(string path)
    {
        string trimmed = path.StartsWith("./", StringComparison.Ordinal) ? path[2..] : path;
        return trimmed.Trim('/');
    }

    private static string? SkipReason(Descriptor layer, SeekableIndexerOptions options)
    {
        if (EstargzLayerIndex.Claims(layer))
        {
            return "eStargz: read natively through its TOC, no index needed";
        }

        if (ZstdChunkedLayerIndex.Claims(layer))
        {
            return "zstd:chunked: read natively through its TOC, no index needed";
        }

        if (!MediaTypes.IsLayer(layer.MediaType))
        {
            return $"not a tar layer ({layer.MediaType})";
        }

        if (MediaTypes.GetLayerCompression(layer.MediaType) == LayerCompression.Zstd)
        {
            return "zstd without a TOC: not indexable (push it as zstd:chunked to read it lazily)";
        }

        if (layer.Urls is { Count: > 0 })
        {
            return "a foreign layer (fetched from its URLs): not indexed";
        }

        return layer.Size < options.MinLayerSize
            ? $"smaller than --min-layer-size ({layer.Size} < {options.MinLayerSize} bytes): fetched whole at mount"
            : null;
    }

    private static async Task<ManifestDocument> ResolveManifestAsync(IImageStore store, ImageReference image, Platform? platform, CancellationToken cancellationToken)
    {
        var root = await store.GetManifestAsync(image, cancellationToken).ConfigureAwait(false);
        if (root.Index is { } index)
        {
            var want = platform ?? Platform.Current;
            var selected = index.SelectPlatform(want)
                ?? throw new Oci.Resolution.PlatformNotFoundException(image, want, index.Manifests.Where(m => m.Platform is not null).Select(m => m.Platform!));
            root = await store.GetManifestAsync(image, selected.Digest, cancellationToken).ConfigureAwait(false);
        }

        return root.Manifest is null
            ? throw new NotSupportedException($"{image} resolves to a nested index; name a platform manifest by digest.")
            : root;
    }

    [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "Layer {Layer} not indexed: {Reason}")]
    private static partial void LogLayerSkipped(ILogger logger, string layer, string reason);

    [LoggerMessage(EventId = 2, Level = LogLevel.Information, Message = "Layer {Layer} indexed: {Spans} spans, {IndexBytes} index bytes, {Milliseconds} ms")]
    private static partial void LogLayerIndexed(ILogger logger, string layer, int spans, long indexBytes, long milliseconds);

    [LoggerMessage(EventId = 3, Level = LogLevel.Information, Message = "Seekable index of {Image} published as {Artifact} ({Listing})")]
    private static partial void LogPublished(ILogger logger, string image, string artifact, string listing);
}

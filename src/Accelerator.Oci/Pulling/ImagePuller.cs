using System.Diagnostics;
using System.Security.Cryptography;
using Accelerator.Linux;
using Accelerator.Oci.Layers;
using Accelerator.Oci.Model;
using Accelerator.Oci.Resolution;

namespace Accelerator.Oci.Pulling;

/// <summary>
/// Full pull: resolves an image, downloads its layers in parallel (each verified against its digest while it
/// streams), applies them lowest first onto a staging tree with the safe layer applier (checking each layer's
/// uncompressed digest against the config), and renames the finished tree into place. The target appears only when
/// complete and verified; on failure nothing is left behind.
/// </summary>
public static class ImagePuller
{
    private const int CopyBufferSize = 1 << 20;

    /// <summary>Pulls <paramref name="image"/> from <paramref name="store"/> into <paramref name="targetDirectory"/>, which must not exist or be empty.</summary>
    public static async Task<PullResult> PullAsync(IImageStore store, ImageReference image, string targetDirectory, PullOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(image);
        ArgumentException.ThrowIfNullOrEmpty(targetDirectory);
        options ??= new PullOptions();
        if (options.MaxParallelDownloads < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(options), "MaxParallelDownloads must be at least 1.");
        }

        if (options.MaxImageBytes is < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(options), "MaxImageBytes must be at least 1.");
        }

        var stopwatch = Stopwatch.StartNew();
        string target = Path.GetFullPath(targetDirectory);
        CheckTarget(target);
        var resolved = await ImageResolver.ResolveAsync(store, image, options.Platform, cancellationToken).ConfigureAwait(false);
        foreach (var layer in resolved.Layers)
        {
            if (!MediaTypes.IsLayer(layer.MediaType))
            {
                throw new NotSupportedException($"Layer {layer.Digest} of {image} has unsupported media type '{layer.MediaType}'.");
            }
        }

        string stagingParent = options.StagingDirectory ?? Path.GetDirectoryName(target) ?? throw new ArgumentException("The target has no parent directory.", nameof(targetDirectory));
        Directory.CreateDirectory(stagingParent);
        // 0700 while it holds the tree being unpacked (set-user-ID files included), whatever the parent's mode.
        var staging = new DirectoryInfo(PrivateDirectory.CreateUnique(stagingParent, ".accel-pull"));
        try
        {
            string rootfs = Path.Combine(staging.FullName, "rootfs");
            string blobs = Path.Combine(staging.FullName, "blobs");
            Directory.CreateDirectory(rootfs);
            Directory.CreateDirectory(blobs);

            using var downloads = new CancellationTokenSource();
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, downloads.Token);
            using var slots = new SemaphoreSlim(options.MaxParallelDownloads);
            var sources = new Dictionary<string, long>(StringComparer.Ordinal);
            var files = resolved.Layers
                .Select(layer => DownloadAsync(store.Blobs, BlobAddress.For(image.Repository, layer), blobs, slots, options, sources, linked.Token))
                .ToArray();

            long written = 0, entries = 0, uncompressed = 0;
            try
            {
                var diffIds = resolved.Config.Rootfs?.DiffIds;
                var unpack = new UnpackProgress(options.Progress, resolved.Layers.Sum(l => l.Size));
                for (int i = 0; i < files.Length; i++)
                {
                    string file = await files[i].ConfigureAwait(false);
                    var layer = resolved.Layers[i];
                    Digest? diffId = options.VerifyDiffIds && diffIds is not null ? diffIds[i] : null;

                    // The image's remaining budget bounds this layer when it is below the per-layer limit.
                    long remaining = options.MaxImageBytes is { } imageLimit ? imageLimit - uncompressed : long.MaxValue;
                    bool imageBound = remaining < options.Layers.MaxUncompressedBytes;
                    var layerOptions = imageBound ? WithLimit(options.Layers, remaining) : options.Layers;
                    LayerApplyReport report;
                    long layerBytes;
                    try
                    {
                        (report, layerBytes) = await ApplyAsync(file, layer, diffId, rootfs, layerOptions, unpack, linked.Token).ConfigureAwait(false);
                    }
                    catch (ContentTooLargeException) when (imageBound)
                    {
                        throw new ContentTooLargeException(
                            $"{image} unpacks to more than {options.MaxImageBytes} bytes, the limit for one image (MaxImageBytes; accel --max-image-size); " +
                            $"stopped in layer {i + 1} of {files.Length} ({layer.Digest}). Nothing was written to {target}.");
                    }

                    File.Delete(file);
                    written += report.BytesWritten;
                    entries += report.Entries;
                    uncompressed += layerBytes;
                }
            }
            catch
            {
                // Stop the other downloads and wait for them, so nothing writes into the staging directory we delete.
                await downloads.CancelAsync().ConfigureAwait(false);
                await Task.WhenAll(files.Select(t => t.ContinueWith(_ => { }, TaskScheduler.Default))).ConfigureAwait(false);
                throw;
            }

            if (Directory.Exists(target))
            {
                Directory.Delete(target);
            }

            Directory.Move(rootfs, target);
            long fetched = resolved.Layers.Sum(l => l.Size);
            return new PullResult(resolved, target, fetched, written, entries, stopwatch.Elapsed) { BytesFetchedBySource = sources };
        }
        finally
        {
            DeleteTree(staging.FullName);
        }
    }

    private static void Count(Dictionary<string, long> sources, IReadOnlyDictionary<string, long> fetched)
    {
        lock (sources)
        {
            foreach (var (name, bytes) in fetched)
            {
                sources[name] = sources.GetValueOrDefault(name) + bytes;
            }
        }
    }

    /// <summary>Reports synchronously (unlike <see cref="Progress{T}"/>, which posts to a context).</summary>
    private sealed class Progress(Action<long> report) : IProgress<long>
    {
        public void Report(long value) => report(value);
    }

    private static void CheckTarget(string target)
    {
        if (File.Exists(target))
        {
            throw new IOException($"{target} exists and is a file.");
        }

        if (Directory.Exists(target) && Directory.EnumerateFileSystemEntries(target).Any())
        {
            throw new IOException($"{target} is not empty.");
        }
    }

    private static async Task<string> DownloadAsync(IBlobSource source, BlobAddress blob, string directory, SemaphoreSlim slots, PullOptions options, Dictionary<string, long> sources, CancellationToken cancellationToken)
    {
        var progress = options.Progress;
        await slots.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            string path = Path.Combine(directory, blob.Digest.Encoded);
            if (source is IBlobDownloader downloader)
            {
                // Sources that verify before handing bytes on (mirror sets) write the file themselves: no second copy.
                var fetched = await downloader.DownloadToFileAsync(
                    blob,
                    path,
                    progress is null ? null : new Progress(done => progress.Report(new MountProgress("download", blob.Digest.ToString(), done, blob.Size))),
                    cancellationToken).ConfigureAwait(false);
                Count(sources, fetched);
                return path;
            }

            byte[] buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(CopyBufferSize);
            try
            {
                await using var input = await source.OpenReadAsync(blob, cancellationToken).ConfigureAwait(false);
                await using var output = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.Read, 1, FileOptions.Asynchronous);
                if (blob.HasSize)
                {
                    output.SetLength(blob.Size);
                }

                long done = 0;
                int n;
                while ((n = await input.ReadAsync(buffer, cancellationToken).ConfigureAwait(false)) > 0)
                {
                    await output.WriteAsync(buffer.AsMemory(0, n), cancellationToken).ConfigureAwait(false);
                    done += n;
                    progress?.Report(new MountProgress("download", blob.Digest.ToString(), done, blob.Size));
                }

                Count(sources, new Dictionary<string, long> { [options.SourceName] = done });
            }
            finally
            {
                System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
            }

            return path;
        }
        finally
        {
            slots.Release();
        }
    }

    private static LayerApplyOptions WithLimit(LayerApplyOptions options, long maxUncompressedBytes) => new()
    {
        MaxUncompressedBytes = maxUncompressedBytes,
        MaxEntries = options.MaxEntries,
        PreserveOwnership = options.PreserveOwnership,
    };

    // Applies one layer; returns what was applied and how many bytes it decompressed to.
    private static async Task<(LayerApplyReport Report, long UncompressedBytes)> ApplyAsync(
        string file, Descriptor layer, Digest? diffId, string rootfs, LayerApplyOptions options, UnpackProgress progress, CancellationToken cancellationToken)
    {
        await using var blob = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.Read, CopyBufferSize, FileOptions.SequentialScan);
        await using var counted = progress.Track(blob, layer);
        await using var decompressed = LayerStreams.OpenDecompressed(counted, MediaTypes.GetLayerCompression(layer.MediaType), options.MaxUncompressedBytes, leaveOpen: true);
        long uncompressedBytes = 0;
        await using var uncompressed = new CountingStream(decompressed, done => uncompressedBytes = done, leaveOpen: true);
        // The diff ID covers the whole uncompressed stream; a mismatch throws from the read that reaches its end.
        await using var verifying = diffId is { } d
            ? new VerifyingStream(uncompressed, d, expectedSize: -1, $"uncompressed layer {layer.Digest} (config diff_id)", leaveOpen: true)
            : null;
        Stream tar = (Stream?)verifying ?? uncompressed;
        LayerApplyReport report;
        await using (var reader = new LayerTarReader(tar, new LayerTarReaderOptions { MaxEntries = options.MaxEntries }, leaveOpen: true))
        {
            report = await LayerApplier.ApplyAsync(reader, rootfs, options, cancellationToken).ConfigureAwait(false);
        }

        if (verifying is not null)
        {
            // Read what follows the end-of-archive marker too, so the whole stream is hashed and checked.
            await verifying.CopyToAsync(Stream.Null, cancellationToken).ConfigureAwait(false);
        }

        else
        {
            await tar.CopyToAsync(Stream.Null, cancellationToken).ConfigureAwait(false);
        }

        progress.Applied(layer);
        return (report, uncompressedBytes);
    }

    /// <summary>Unpack progress over the whole image, in compressed layer bytes consumed; reports at most every 1 MiB.</summary>
    private sealed class UnpackProgress(IProgress<MountProgress>? progress, long total)
    {
        private const long ReportEvery = 1 << 20;
        private long _applied;
        private long _reported = -ReportEvery;

        public Stream Track(Stream blob, Descriptor layer)
            => progress is null ? blob : new CountingStream(blob, done => Report(layer, _applied + done, force: false), leaveOpen: true);

        public void Applied(Descriptor layer)
        {
            _applied += layer.Size;
            Report(layer, _applied, force: true);
        }

        private void Report(Descriptor layer, long done, bool force)
        {
            if (progress is not null && (force || done - _reported >= ReportEvery))
            {
                _reported = done;
                progress.Report(new MountProgress("unpack", layer.Digest.ToString(), Math.Min(done, total), total));
            }
        }
    }

    private static void DeleteTree(string path)
    {
        try
        {
            if (Directory.Exists(path))
            {
                Directory.Delete(path, recursive: true);
            }
        }
        catch (IOException)
        {
            // Best effort: a read-only directory from the layer (mode 0555) can refuse deletion by non-root users.
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}

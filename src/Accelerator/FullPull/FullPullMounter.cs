using Accelerator.Linux;
using Accelerator.Oci;
using Accelerator.Oci.Layers;
using Accelerator.Oci.Pulling;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Accelerator.FullPull;

/// <summary>The baseline strategy: pull every layer and unpack the flattened tree at the mount point.</summary>
internal sealed partial class FullPullMounter : IImageMounter
{
    private readonly ImageStoreResolver _stores;
    private readonly FullPullOptions _options;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;

    public FullPullMounter(ImageStoreResolver stores, IOptions<FullPullOptions> options, ILogger<FullPullMounter>? logger = null, TimeProvider? time = null)
    {
        _stores = stores;
        _options = options.Value;
        _logger = (ILogger?)logger ?? NullLogger.Instance;
        _time = time ?? TimeProvider.System;
    }

    public Strategy Strategy => Strategy.Full;

    // Every image can be pulled; failures to reach it surface from MountAsync as errors, not as fallbacks.
    public ValueTask<(bool CanMount, string? Reason)> CanMountAsync(ImageReference image, CancellationToken cancellationToken = default)
        => ValueTask.FromResult<(bool, string?)>((true, null));

    public async Task<IMountedImage> MountAsync(ImageReference image, string mountPoint, MountOptions options, CancellationToken cancellationToken = default)
    {
        long started = _time.GetTimestamp();
        if (!_options.MountUnpackedTree)
        {
            var result = await PullAsync(image, mountPoint, options, cancellationToken).ConfigureAwait(false);
            return new Mounted(image, result, result.TargetDirectory, Statistics(image, result, started), privateDirectory: null, _options.RemoveOnUnmount);
        }

        string target = Path.GetFullPath(mountPoint);
        Directory.CreateDirectory(target);
        string privateDirectory = PrivateDirectory.CreateUnique(
            _options.StateDirectory ?? PrivateDirectory.FirstWritable(DefaultStateDirectory, PrivateDirectory.InTemp("accel-full")), "full");
        bool mounted = false;
        try
        {
            var result = await PullAsync(image, Path.Combine(privateDirectory, "tree"), options, cancellationToken).ConfigureAwait(false);
            MountTree(privateDirectory, result.TargetDirectory, target, options.ReadOnly);
            mounted = true;
            var statistics = Statistics(image, result, started);
            LogMountedTree(image, target, options.ReadOnly, privateDirectory);
            return new Mounted(image, result, target, statistics, privateDirectory, _options.RemoveOnUnmount);
        }
        finally
        {
            if (!mounted)
            {
                DeleteTree(privateDirectory);
            }
        }
    }

    /// <summary>The default parent of the private directories of mounted trees: on disk, since it holds whole images.</summary>
    public const string DefaultStateDirectory = "/var/lib/accel/full";

    // The unpacked tree is the overlay's lower layer, never written: a writable mount gets an upper and a work directory
    // beside it, a read-only one a second, empty lower (overlayfs needs two lower layers when it has no upper).
    // Set-user-ID files keep working in the mount, as they must in a container's root; the 0700 private directory
    // keeps other users from reaching them through the tree (see docs/security.md, "The local host").
    private static void MountTree(string privateDirectory, string tree, string target, bool readOnly)
    {
        if (readOnly)
        {
            string empty = Directory.CreateDirectory(Path.Combine(privateDirectory, "empty")).FullName;
            OverlayMount.Mount([tree, empty], null, null, target);
            return;
        }

        string upper = Directory.CreateDirectory(Path.Combine(privateDirectory, "upper")).FullName;
        string work = Directory.CreateDirectory(Path.Combine(privateDirectory, "work")).FullName;
        OverlayMount.Mount([tree], upper, work, target);
    }

    private Task<PullResult> PullAsync(ImageReference image, string directory, MountOptions options, CancellationToken cancellationToken)
    {
        string source = ImageStoreResolver.SourceName(image);
        return ImagePuller.PullAsync(_stores.GetStore(image), image, directory, new PullOptions
        {
            Platform = options.Platform,
            MaxParallelDownloads = _options.MaxParallelDownloads,
            VerifyDiffIds = _options.VerifyDiffIds,
            Layers = new LayerApplyOptions { MaxUncompressedBytes = _options.MaxUncompressedLayerBytes, MaxEntries = _options.MaxEntriesPerLayer },
            MaxImageBytes = _options.MaxUncompressedImageBytes,
            SourceName = source,
            Progress = options.Progress,
        }, cancellationToken);
    }

    private MountStatistics Statistics(ImageReference image, PullResult result, long started)
    {
        string source = ImageStoreResolver.SourceName(image);
        var statistics = new MountStatistics { Strategy = Strategy.Full, TimeToReady = _time.GetElapsedTime(started) };
        if (result.BytesFetchedBySource.Count > 0)
        {
            // Mirror sets say which host served each layer: origin or mirror:HOST.
            foreach (var (name, bytes) in result.BytesFetchedBySource)
            {
                statistics.AddFetched(name, bytes);
            }
        }
        else
        {
            statistics.AddFetched(source, result.BytesFetched);
        }
        statistics.AddRead(result.BytesWritten);
        statistics.AddChunks(result.Image.Layers.Count);
        LogPulled(image, result.Image.Manifest.Digest, result.Image.Layers.Count, result.BytesFetched, result.Elapsed.TotalMilliseconds);
        return statistics;
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
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // Best effort: what stays is inside the private state directory.
        }
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Pulled {Image} ({Digest}): {Layers} layers, {Bytes} bytes in {Milliseconds:F0} ms.")]
    private partial void LogPulled(ImageReference image, Digest digest, int layers, long bytes, double milliseconds);

    [LoggerMessage(Level = LogLevel.Information, Message = "Mounted the unpacked tree of {Image} at {MountPoint} (read-only: {ReadOnly}; private directory {PrivateDirectory}).")]
    private partial void LogMountedTree(ImageReference image, string mountPoint, bool readOnly, string privateDirectory);

    private sealed class Mounted(ImageReference image, PullResult result, string mountPoint, MountStatistics statistics, string? privateDirectory, bool removeOnUnmount) : IMountedImage
    {
        private int _disposed;

        public ImageReference Image => image;

        public Digest ManifestDigest => result.Image.Manifest.Digest;

        public string MountPoint => mountPoint;

        public MountStatistics Statistics => statistics;

        public ValueTask DisposeAsync()
        {
            if (Interlocked.Exchange(ref _disposed, 1) != 0)
            {
                return ValueTask.CompletedTask;
            }

            if (privateDirectory is null)
            {
                if (removeOnUnmount)
                {
                    DeleteTree(MountPoint);
                }

                return ValueTask.CompletedTask;
            }

            // Someone may have unmounted it already ('accel umount'): then there is nothing to unmount.
            FileSystemMount.Unmount(MountPoint);
            if (removeOnUnmount)
            {
                DeleteTree(privateDirectory);
            }

            return ValueTask.CompletedTask;
        }
    }
}

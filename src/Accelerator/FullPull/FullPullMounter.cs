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
        string source = ImageStoreResolver.SourceName(image);
        var result = await ImagePuller.PullAsync(_stores.GetStore(image), image, mountPoint, new PullOptions
        {
            Platform = options.Platform,
            MaxParallelDownloads = _options.MaxParallelDownloads,
            VerifyDiffIds = _options.VerifyDiffIds,
            Layers = new LayerApplyOptions { MaxUncompressedBytes = _options.MaxUncompressedLayerBytes, MaxEntries = _options.MaxEntriesPerLayer },
            SourceName = source,
            Progress = options.Progress,
        }, cancellationToken).ConfigureAwait(false);

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
        return new Mounted(image, result, statistics, _options.RemoveOnUnmount);
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Pulled {Image} ({Digest}): {Layers} layers, {Bytes} bytes in {Milliseconds:F0} ms.")]
    private partial void LogPulled(ImageReference image, Digest digest, int layers, long bytes, double milliseconds);

    private sealed class Mounted(ImageReference image, PullResult result, MountStatistics statistics, bool removeOnUnmount) : IMountedImage
    {
        private int _disposed;

        public ImageReference Image => image;

        public Digest ManifestDigest => result.Image.Manifest.Digest;

        public string MountPoint => result.TargetDirectory;

        public MountStatistics Statistics => statistics;

        public ValueTask DisposeAsync()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0 && removeOnUnmount && Directory.Exists(MountPoint))
            {
                Directory.Delete(MountPoint, recursive: true);
            }

            return ValueTask.CompletedTask;
        }
    }
}

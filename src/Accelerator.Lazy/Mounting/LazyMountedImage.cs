using Accelerator.Fuse;
using Accelerator.Fuse.Takeover;
using Accelerator.Chunks.Caching;
using Accelerator.Lazy.Statistics;
using Accelerator.Lazy.Tracing;
using Accelerator.Linux;
using Accelerator.Oci.Layers;
using Microsoft.Extensions.Logging;

namespace Accelerator.Lazy.Mounting;

/// <summary>
/// A lazily mounted image. Disposing it unmounts the overlay, then the FUSE tree, stops the prefetch, writes the
/// statistics and trace files if configured, and removes the mount's private directories (the overlay's upper layer too).
/// With takeover (<see cref="LazyMountOptions.Takeover"/>) the holder forgets the mount first; once handed over to a
/// successor (<see cref="HandedOver"/>), or after <see cref="FuseHandover.Begin"/>, disposing unmounts and removes nothing.
/// </summary>
public sealed partial class LazyMountedImage : IMountedImage, IReportsStatisticsFile, IHeldMountedImage
{
    private static readonly Task Never = new TaskCompletionSource().Task;

    private readonly MountResources _resources;
    private readonly LazyMountOptions _options;
    private readonly ILogger _logger;
    private int _disposed;

    internal LazyMountedImage(ImageReference image, Digest manifestDigest, string mountPoint, LazyMountStatistics statistics, MountResources resources, LazyMountOptions options, ILogger logger)
    {
        Image = image;
        ManifestDigest = manifestDigest;
        MountPoint = mountPoint;
        LazyStatistics = statistics;
        _resources = resources;
        _options = options;
        _logger = logger;
    }

    /// <inheritdoc />
    public ImageReference Image { get; }

    /// <inheritdoc />
    public Digest ManifestDigest { get; }

    /// <inheritdoc />
    public string MountPoint { get; }

    /// <inheritdoc />
    public MountStatistics Statistics => LazyStatistics.Mount;

    /// <summary>Where <see cref="LazyStatistics"/> are written when disposed: <see cref="LazyMountOptions.StatisticsJsonPath"/>.</summary>
    public string? StatisticsFile => _options.StatisticsJsonPath;

    /// <summary>The fetch path's counters, beyond <see cref="Statistics"/>.</summary>
    public LazyMountStatistics LazyStatistics { get; }

    /// <summary>The FUSE tree's mount point: the mount point itself when read-only, else the overlay's private lower directory.</summary>
    public string FuseMountPoint => _resources.Fuse!.MountPoint;

    /// <summary>The overlay's upper directory, where writes land; null for a read-only mount.</summary>
    public string? UpperDirectory => _resources.Overlay is null ? null : Path.Combine(_resources.PrivateDirectory, "upper");

    /// <summary>Completes when the FUSE connection ended (for example after <c>accel umount</c> of a read-only mount).</summary>
    public Task Completion => _resources.Fuse!.Completion;

    /// <inheritdoc />
    public Task HandedOver => _resources.Lease?.HandedOver ?? Never;

    /// <summary>Completes when the background prefetch ended (at once when there is none).</summary>
    public Task PrefetchCompletion => _resources.Prefetch ?? Task.CompletedTask;

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await _resources.DisposeAsync().ConfigureAwait(false);
        try
        {
            if (_options.StatisticsJsonPath is { } statsPath)
            {
                LazyStatistics.WriteJsonFile(statsPath);
            }

            if (_options.TracePath is { } tracePath)
            {
                _resources.Trace?.WriteToFile(tracePath);
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            LogReportFailed(ex);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Writing the mount's statistics or trace failed.")]
    private partial void LogReportFailed(Exception exception);
}

/// <summary>What a lazy mount holds, released in reverse order of acquisition.</summary>
internal sealed class MountResources(string privateDirectory) : IAsyncDisposable
{
    private readonly CancellationTokenSource _prefetchStop = new();
    private int _disposed;

    public string PrivateDirectory { get; } = privateDirectory;

    public ChunkCache? Cache { get; set; }

    public ReadTraceRecorder? Trace { get; set; }

    public FuseMount? Fuse { get; set; }

    public string? Overlay { get; set; }

    public Task? Prefetch { get; private set; }

    /// <summary>The mount point's lease at the holder, when takeover is on.</summary>
    public FuseMountLease? Lease { get; set; }

    /// <summary>
    /// Disposing leaves the overlay and FUSE mounted and the private directory in place (a successor serves them): set
    /// when handed over, and while a taken-over mount is not yet resumed. <see cref="FuseHandover.Begin"/> sets it for all.
    /// </summary>
    public bool LeaveMounted { get; set; }

    /// <summary>Starts the background work (prefetch, index verification); disposing cancels it and waits for it.</summary>
    public void StartPrefetch(Func<CancellationToken, Task> run)
        => Prefetch = Task.Run(() => run(_prefetchStop.Token));

    /// <summary>A successor claimed the mount point: stop serving, leave everything mounted.</summary>
    public async Task HandOverAsync()
    {
        LeaveMounted = true;
        await DisposeAsync().ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        bool leave = FuseHandover.Leaves(Fuse, LeaveMounted);
        if (leave)
        {
            Fuse?.LeaveMounted();
        }
        else
        {
            if (Lease is not null)
            {
                await Lease.ForgetAsync().ConfigureAwait(false);
            }

            if (Overlay is not null)
            {
                // An IOException leaves the rest as it is: the FUSE tree below a mounted overlay must stay.
                FileSystemMount.Unmount(Overlay);
            }
        }

        if (Fuse is not null)
        {
            await Fuse.DisposeAsync().ConfigureAwait(false);
        }

        if (Lease is not null)
        {
            await Lease.DisposeAsync().ConfigureAwait(false);
        }

        await _prefetchStop.CancelAsync().ConfigureAwait(false);
        if (Prefetch is not null)
        {
            try
            {
                await Prefetch.ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
            }
        }

        _prefetchStop.Dispose();
        Cache?.Dispose();
        if (!leave)
        {
            try
            {
                Directory.Delete(PrivateDirectory, recursive: true);
            }
            catch (DirectoryNotFoundException)
            {
            }
        }
    }
}

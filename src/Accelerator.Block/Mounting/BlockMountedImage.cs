using Accelerator.Fuse;
using Accelerator.Fuse.Takeover;
using Accelerator.Linux;
using Accelerator.Oci.Layers;
using Microsoft.Extensions.Logging;

namespace Accelerator.Block.Mounting;

/// <summary>
/// A disk mounted by <see cref="BlockMounter"/>: one FUSE file, a loop device on it, the file system on the loop device,
/// and (writable mounts) an overlay whose upper directory takes the writes. Disposing tears them down in reverse. With
/// takeover (<see cref="BlockMountOptions.Takeover"/>) the holder forgets the mount first; once handed over to a
/// successor (<see cref="HandedOver"/>), or after <see cref="FuseHandover.Begin"/>, disposing tears nothing down.
/// </summary>
public sealed partial class BlockMountedImage : IMountedImage, IHeldMountedImage
{
    private static readonly Task Never = new TaskCompletionSource().Task;

    private readonly Resources _resources;
    private readonly ILogger _logger;
    private int _disposed;

    internal BlockMountedImage(ImageReference image, Digest manifestDigest, string mountPoint, string fileSystemType, MountStatistics statistics, Resources resources, ILogger logger)
    {
        Image = image;
        ManifestDigest = manifestDigest;
        MountPoint = mountPoint;
        FileSystemType = fileSystemType;
        Statistics = statistics;
        _resources = resources;
        _logger = logger;
    }

    /// <inheritdoc />
    public ImageReference Image { get; }

    /// <inheritdoc />
    public Digest ManifestDigest { get; }

    /// <inheritdoc />
    public string MountPoint { get; }

    /// <inheritdoc />
    public MountStatistics Statistics { get; }

    /// <inheritdoc />
    public Task HandedOver => _resources.Lease?.HandedOver ?? Never;

    /// <summary>The file system on the disk (<c>ext4</c>, <c>erofs</c> or <c>squashfs</c>).</summary>
    public string FileSystemType { get; }

    /// <summary>The loop device the file system is mounted from, e.g. <c>/dev/loop3</c>.</summary>
    public string LoopDevice => _resources.Loop!.Path;

    /// <summary>Whether the loop device reads its FUSE file with direct I/O.</summary>
    public bool DirectIo => _resources.Loop!.DirectIo;

    /// <summary>The FUSE file that is the disk.</summary>
    public string DiskFile => Path.Combine(_resources.Fuse!.MountPoint, DiskFileSystem.FileName);

    /// <summary>The overlay's upper directory, where writes land; null for a read-only mount.</summary>
    public string? UpperDirectory => _resources.Overlay is null ? null : Path.Combine(_resources.PrivateDirectory, "upper");

    /// <summary>
    /// Completes when the image's prefetch trace has been replayed into the block cache in the background (at once when
    /// the image has none, or the disk is not a block image's layer stack).
    /// </summary>
    public Task PrefetchCompletion => _resources.Stack?.PrefetchCompletion ?? Task.CompletedTask;

    /// <summary>The statistics of the block image's layer stack (cache hits, blocks fetched and prefetched); null for a raw disk.</summary>
    public Caching.BlockStackStatistics? StackStatistics => _resources.Stack?.Statistics;

    /// <summary>Where the block trace is written when this mount is disposed; null when none is recorded.</summary>
    public string? TracePath => _resources.TracePath;

    internal void AttachOpenedDisk(Layers.BlockLayerStack? stack, Prefetch.BlockTraceRecorder? recorder, string? tracePath)
    {
        _resources.Stack = stack;
        _resources.TraceRecorder = recorder;
        _resources.TracePath = recorder is null ? null : tracePath;
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await _resources.DisposeAsync().ConfigureAwait(false);
        LogUnmounted(MountPoint);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Unmounted the block mount at {MountPoint}.")]
    private partial void LogUnmounted(string mountPoint);

    /// <summary>What a block mount holds, released in reverse order of acquisition.</summary>
    internal sealed partial class Resources(string privateDirectory, IVirtualDisk? ownedDisk, ILogger logger) : IAsyncDisposable
    {
        private int _disposed;

        public string PrivateDirectory { get; } = privateDirectory;

        public FuseMount? Fuse { get; set; }

        public LoopDevice? Loop { get; set; }

        public string? FileSystemMount { get; set; }

        public string? Overlay { get; set; }

        public Layers.BlockLayerStack? Stack { get; set; }

        public Prefetch.BlockTraceRecorder? TraceRecorder { get; set; }

        public string? TracePath { get; set; }

        /// <summary>The mount point's lease at the holder, when takeover is on.</summary>
        public FuseMountLease? Lease { get; set; }

        /// <summary>
        /// Disposing leaves the overlay, the file system, the loop device and the FUSE file as they are, and the private
        /// directory in place (a successor serves them): set when handed over, and while a taken-over mount is not yet
        /// resumed. <see cref="FuseHandover.Begin"/> sets it for all.
        /// </summary>
        public bool LeaveMounted { get; set; }

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

                // Upper layers first: an overlay over the file system, the file system over the loop device, the loop
                // device over the FUSE file. A step that fails is logged and the rest still runs, so nothing leaks.
                Step(() => Overlay is { } overlay && Accelerator.Linux.FileSystemMount.Unmount(overlay), "overlay");
                Step(() => FileSystemMount is { } mount && Accelerator.Linux.FileSystemMount.Unmount(mount), "file system");
                if (Loop is { } loop)
                {
                    try
                    {
                        await loop.DetachAsync().ConfigureAwait(false);
                    }
                    catch (IOException ex)
                    {
                        LogTeardownFailed(logger, "loop device", ex);
                    }
                }
            }

            if (Fuse is { } fuse)
            {
                await fuse.DisposeAsync().ConfigureAwait(false);
            }

            if (Lease is not null)
            {
                await Lease.DisposeAsync().ConfigureAwait(false);
            }

            if (ownedDisk is not null)
            {
                await ownedDisk.DisposeAsync().ConfigureAwait(false);
            }

            // Every read has ended: the trace is complete.
            if (TraceRecorder is { } recorder && TracePath is { } tracePath)
            {
                try
                {
                    recorder.WriteToFile(tracePath);
                }
                catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
                {
                    LogTeardownFailed(logger, "block trace", ex);
                }
            }

            if (leave)
            {
                return;
            }

            try
            {
                Directory.Delete(PrivateDirectory, recursive: true);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                LogTeardownFailed(logger, "private directory", ex);
            }
        }

        private void Step(Func<bool> action, string what)
        {
            try
            {
                action();
            }
            catch (IOException ex)
            {
                LogTeardownFailed(logger, what, ex);
            }
        }

        [LoggerMessage(Level = LogLevel.Warning, Message = "Tearing down the block mount's {What} failed.")]
        private static partial void LogTeardownFailed(ILogger logger, string what, Exception exception);
    }
}

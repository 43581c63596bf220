using Accelerator.Fuse;
using Accelerator.Linux;
using Accelerator.Chunks;
using Accelerator.Oci.Layers;
using Accelerator.Oci.Validation;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Accelerator.Block.Mounting;

/// <summary>
/// The block strategy: an image's virtual disk exposed as one file on a FUSE mount, a loop device attached to that file,
/// and the disk's file system (ext4, erofs or squashfs) mounted read-only from the loop device. Writable mounts put an
/// overlay over it whose upper directory takes the container's writes, as lazy mounts do.
/// </summary>
/// <remarks>
/// This machine class has no nbd kernel module, so the kernel reaches the disk through FUSE and a loop device instead of
/// <c>/dev/nbdN</c>. Needs root (mount(2), losetup).
/// </remarks>
public sealed partial class BlockMounter : IImageMounter
{
    private const string DevFuse = "/dev/fuse";
    private const string LoopControl = "/dev/loop-control";

    private readonly IReadOnlyList<IBlockImageOpener> _openers;
    private readonly BlockMountOptions _options;
    private readonly ILoggerFactory _loggerFactory;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;

    /// <summary>Creates a block mounter that opens image disks through <paramref name="openers"/>.</summary>
    /// <exception cref="ArgumentException">An option is out of range.</exception>
    public BlockMounter(IEnumerable<IBlockImageOpener> openers, BlockMountOptions options, ILoggerFactory? loggerFactory = null, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(openers);
        ArgumentNullException.ThrowIfNull(options);
        new BlockMountOptionsValidator().ThrowIfInvalid(options, "block mount");
        _openers = [.. openers];
        _options = options;
        _loggerFactory = loggerFactory ?? NullLoggerFactory.Instance;
        _logger = _loggerFactory.CreateLogger<BlockMounter>();
        _time = timeProvider ?? TimeProvider.System;
    }

    /// <inheritdoc />
    public Strategy Strategy => Strategy.Block;

    /// <inheritdoc />
    public async ValueTask<(bool CanMount, string? Reason)> CanMountAsync(ImageReference image, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(image);
        if (UnusableReason() is { } reason)
        {
            return (false, reason);
        }

        var (opener, why) = await FindOpenerAsync(image, null, cancellationToken).ConfigureAwait(false);
        return opener is null ? (false, why) : (true, null);
    }

    /// <inheritdoc />
    public async Task<IMountedImage> MountAsync(ImageReference image, string mountPoint, MountOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(image);
        ArgumentNullException.ThrowIfNull(options);
        long started = _time.GetTimestamp();
        var (opener, reason) = await FindOpenerAsync(image, options.Platform, cancellationToken).ConfigureAwait(false);
        if (opener is null)
        {
            throw new InvalidOperationException($"{image} cannot be mounted as a block device: {reason}");
        }

        var statistics = new MountStatistics { Strategy = Strategy.Block };
        var opened = await opener.OpenAsync(image, options.Platform, statistics, cancellationToken).ConfigureAwait(false);
        IVirtualDisk disk = opened.Disk;
        Prefetch.BlockTraceRecorder? recorder = null;
        if (_options.TracePath is not null)
        {
            // Outside the stack: the reads of the mount and the start are recorded, not the stack's own prefetches.
            recorder = new Prefetch.BlockTraceRecorder(disk, disk.BlockSize, ownsInner: true);
            disk = recorder;
        }

        var mounted = await MountCoreAsync(disk, ownsDisk: true, image, opened.ManifestDigest, mountPoint, options.ReadOnly, statistics, started, cancellationToken).ConfigureAwait(false);
        mounted.AttachOpenedDisk(opened.Disk as Layers.BlockLayerStack, recorder, _options.TracePath is { } path ? Path.GetFullPath(path) : null);
        return mounted;
    }

    /// <summary>
    /// Mounts the file system on <paramref name="disk"/> at <paramref name="mountPoint"/>: read-only, or writable through
    /// an overlay whose upper directory takes the writes (the disk itself is never written).
    /// </summary>
    /// <param name="disk">The disk; it must hold an ext4, erofs or squashfs file system.</param>
    /// <param name="mountPoint">An existing directory.</param>
    /// <param name="readOnly">Mount the bare read-only file system, without an overlay.</param>
    /// <param name="ownsDisk">Dispose <paramref name="disk"/> when the mount is disposed.</param>
    /// <param name="image">The reference reported by the mounted image; <c>oci:DISK</c>-less callers may pass null.</param>
    /// <param name="cancellationToken">Cancels mounting (what was set up is torn down).</param>
    /// <exception cref="InvalidDataException">The disk holds no file system this mounter knows.</exception>
    /// <exception cref="IOException">FUSE, losetup or mount(2) failed.</exception>
    public Task<BlockMountedImage> MountDiskAsync(IVirtualDisk disk, string mountPoint, bool readOnly = false, bool ownsDisk = false, ImageReference? image = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(disk);
        var statistics = new MountStatistics { Strategy = Strategy.Block };
        return MountCoreAsync(disk, ownsDisk, image ?? ImageReference.Parse("localhost/disk:raw"), default, mountPoint, readOnly, statistics, _time.GetTimestamp(), cancellationToken);
    }

    private async Task<BlockMountedImage> MountCoreAsync(
        IVirtualDisk disk, bool ownsDisk, ImageReference image, Digest manifestDigest, string mountPoint, bool readOnly, MountStatistics statistics, long started, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(mountPoint);
        string target = Path.GetFullPath(mountPoint);
        if (!Directory.Exists(target))
        {
            if (ownsDisk)
            {
                await disk.DisposeAsync().ConfigureAwait(false);
            }

            throw new DirectoryNotFoundException($"The mount point '{target}' does not exist.");
        }

        var resources = new BlockMountedImage.Resources(CreatePrivateDirectory(), ownsDisk ? disk : null, _logger);
        try
        {
            string type = await DiskFileSystemType.DetectAsync(disk, cancellationToken).ConfigureAwait(false)
                ?? throw new InvalidDataException("The disk holds no ext4, erofs or squashfs file system.");

            string fuseDirectory = Directory.CreateDirectory(Path.Combine(resources.PrivateDirectory, "fuse")).FullName;
            var fileSystem = new DiskFileSystem(disk, UnixTime.FromDateTimeOffset(_time.GetUtcNow()), statistics);
            var fuseOptions = new FuseMountOptions
            {
                FileSystemName = "accel-block",
                Subtype = "accel-block",
                Session = { RequestTimeout = _options.RequestTimeout, MaxReaders = 32 },
            };
            resources.Fuse = await FuseMount.MountAsync(fuseDirectory, fileSystem, fuseOptions, _loggerFactory, _time, cancellationToken).ConfigureAwait(false);
            resources.Loop = await LoopDevice.AttachAsync(
                Path.Combine(fuseDirectory, DiskFileSystem.FileName), readOnly: true, _options.DirectIo, _options.SectorSize, cancellationToken).ConfigureAwait(false);

            if (_options.ReadAheadKilobytes is { } readAhead && !resources.Loop.TrySetReadAhead(readAhead))
            {
                LogReadAheadFailed(resources.Loop.Path);
            }

            string fileSystemTarget = readOnly ? target : Directory.CreateDirectory(Path.Combine(resources.PrivateDirectory, "lower")).FullName;

            // The device is read-only: ext4 must not replay a journal (noload), which it could not write back anyway.
            // Mounted at the mount point (read-only), the file system is the container's root and keeps set-user-ID
            // and device semantics; as the lower layer of the overlay it is only the overlay's source, so it is
            // mounted nosuid,nodev: whoever reached it in the private directory could run nothing as another user.
            var flags = MountFlags.ReadOnly | (readOnly ? MountFlags.None : MountFlags.NoSetUid | MountFlags.NoDevices);
            Accelerator.Linux.FileSystemMount.Mount(resources.Loop.Path, fileSystemTarget, type, flags, type == "ext4" ? "noload" : null);
            resources.FileSystemMount = fileSystemTarget;
            if (!readOnly)
            {
                string upper = Directory.CreateDirectory(Path.Combine(resources.PrivateDirectory, "upper")).FullName;
                string work = Directory.CreateDirectory(Path.Combine(resources.PrivateDirectory, "work")).FullName;
                OverlayMount.Mount([fileSystemTarget], upper, work, target);
                resources.Overlay = target;
            }

            statistics.TimeToReady = _time.GetElapsedTime(started);
            LogMounted(image, type, resources.Loop.Path, resources.Loop.DirectIo, target, readOnly, statistics.TimeToReady.TotalMilliseconds);
            return new BlockMountedImage(image, manifestDigest, target, type, statistics, resources, _logger);
        }
        catch
        {
            await resources.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    private async Task<(IBlockImageOpener? Opener, string? Reason)> FindOpenerAsync(ImageReference image, Platform? platform, CancellationToken cancellationToken)
    {
        if (_openers.Count == 0)
        {
            return (null, "no block image format is configured");
        }

        var reasons = new List<string>();
        foreach (var opener in _openers)
        {
            var (canOpen, reason) = await opener.CanOpenAsync(image, platform, cancellationToken).ConfigureAwait(false);
            if (canOpen)
            {
                return (opener, null);
            }

            reasons.Add(reason ?? $"{opener.GetType().Name} cannot open it");
        }

        return (null, string.Join("; ", reasons));
    }

    private static string? UnusableReason()
    {
        foreach (string device in new[] { DevFuse, LoopControl })
        {
            try
            {
                using var handle = File.OpenHandle(device, FileMode.Open, FileAccess.ReadWrite);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                return $"{device} is not usable ({ex.Message})";
            }
        }

        return null;
    }

    private string CreatePrivateDirectory()
    {
        string parent = _options.StateDirectory ?? PrivateDirectory.FirstWritable(LocalDirectories.RunDirectory, PrivateDirectory.InTemp("accel-run"));
        return PrivateDirectory.CreateUnique(parent, "block");
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Setting the readahead of {Loop} failed; the kernel's default stays.")]
    private partial void LogReadAheadFailed(string loop);

    [LoggerMessage(Level = LogLevel.Information, Message = "Mounted {Image} ({FileSystem} on {Loop}, direct I/O: {DirectIo}) at {MountPoint} (read-only: {ReadOnly}) in {Milliseconds:F0} ms.")]
    private partial void LogMounted(ImageReference image, string fileSystem, string loop, bool directIo, string mountPoint, bool readOnly, double milliseconds);
}

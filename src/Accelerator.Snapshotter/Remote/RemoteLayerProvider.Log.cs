using Microsoft.Extensions.Logging;

namespace Accelerator.Snapshotter.Remote;

public sealed partial class RemoteLayerProvider
{
    [LoggerMessage(Level = LogLevel.Information, Message = "Layer {ChainId} is left to containerd: {Reason}.")]
    private partial void LogNoImage(string chainId, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Image {Image} ({Manifest}) is served remotely with strategy {Strategy}, ready in {Milliseconds:F0} ms (skipped: {Skipped}); mounted at {MountPoint}.")]
    private partial void LogServed(ImageReference image, Digest manifest, string strategy, double milliseconds, string skipped, string mountPoint);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Image {Image} ({Manifest}) is left to containerd (ordinary, {Category}): {Reason}.")]
    private partial void LogOrdinary(ImageReference image, Digest manifest, string category, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Layer {ChainId} (parent {Parent}) is not a layer of {Image} ({Manifest}) as its config describes it; left to containerd.")]
    private partial void LogChainMismatch(string chainId, string? parent, ImageReference image, Digest manifest);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Layer {ChainId} ({Depth} of {Layers}) of {Image} is a remote snapshot ({Strategy}).")]
    private partial void LogProvided(string chainId, int depth, int layers, ImageReference image, string strategy);

    [LoggerMessage(Level = LogLevel.Information, Message = "Image {Image} ({Manifest}) mounted again for its snapshots with strategy {Strategy} in {Milliseconds:F0} ms.")]
    private partial void LogRemounted(ImageReference image, Digest manifest, string strategy, double milliseconds);

    [LoggerMessage(Level = LogLevel.Information, Message = "Unpacked the lowest {Count} of the {Layers} layers of {Image} for a snapshot that uses an intermediate layer as its parent, in {Milliseconds:F0} ms.")]
    private partial void LogUnpacked(ImageReference image, int count, int layers, double milliseconds);

    [LoggerMessage(Level = LogLevel.Information, Message = "The last snapshot of {Image} ({Manifest}) was removed; its mount and directory are gone.")]
    private partial void LogReleased(ImageReference image, Digest manifest);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Unmounting {Image} failed.")]
    private partial void LogUnmountFailed(ImageReference image, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The remote image record in {Directory} cannot be read ({Reason}); the directory is removed.")]
    private partial void LogRecordUnreadable(string directory, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Removing {Directory} failed: {Reason}.")]
    private partial void LogRemoveFailed(string directory, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Taking over the held mount of {Image} at {MountPoint} failed; it is mounted again when next used.")]
    private partial void LogResumeFailed(ImageReference image, string mountPoint, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Directory} has no snapshots left but its mount is still held by the FUSE holder; left in place.")]
    private partial void LogHeldWithoutSnapshots(string directory);
}

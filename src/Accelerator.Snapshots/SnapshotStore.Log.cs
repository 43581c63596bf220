using Microsoft.Extensions.Logging;

namespace Accelerator.Snapshots;

public sealed partial class SnapshotStore
{
    [LoggerMessage(Level = LogLevel.Information, Message = "Warmed {Image} ({Digest}): {Built} layers fetched, {Reused} reused, {Bytes} bytes in {Milliseconds:F0} ms.")]
    private partial void LogWarmed(ImageReference image, Digest digest, int built, int reused, long bytes, double milliseconds);

    [LoggerMessage(Level = LogLevel.Information, Message = "Cloned the snapshot of {Image} ({Digest}) at {MountPoint}: {Layers} layers in {Milliseconds:F1} ms.")]
    private partial void LogMounted(ImageReference image, Digest digest, string mountPoint, int layers, double milliseconds);

    [LoggerMessage(Level = LogLevel.Information, Message = "Evicted the snapshot {Digest} ({Reason}).")]
    private partial void LogEvicted(Digest digest, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The snapshot store uses {Used} bytes, over its capacity of {Capacity}; what remains is mounted or in use.")]
    private partial void LogOverCapacity(long used, long capacity);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Recovered the snapshot store {Root}: removed {Staging} unfinished warms, {Layers} invalid layers, {Snapshots} invalid snapshots, {Clones} stale clones.")]
    private partial void LogRecovered(string root, int staging, int layers, int snapshots, int clones);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not delete {Path}.")]
    private partial void LogDeleteFailed(string path, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Resolving {Image} failed ({Reason}); using its snapshot {Digest}.")]
    private partial void LogResolveFailedUsingSnapshot(ImageReference image, Digest digest, string reason);
}

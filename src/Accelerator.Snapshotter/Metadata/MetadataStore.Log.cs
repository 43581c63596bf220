using Microsoft.Extensions.Logging;

namespace Accelerator.Snapshotter.Metadata;

internal sealed partial class MetadataStore
{
    [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "Snapshotter metadata on {Root}: {Count} snapshot(s)")]
    private static partial void LogOpened(ILogger logger, string root, int count);

    [LoggerMessage(EventId = 2, Level = LogLevel.Warning, Message = "Removing {Directory}: no snapshot record owns it (left by a crash or a removal)")]
    private static partial void LogOrphanRemoved(ILogger logger, string directory);

    [LoggerMessage(EventId = 3, Level = LogLevel.Warning, Message = "Snapshot record {File} is unreadable; set aside as .unreadable")]
    private static partial void LogUnreadableRecord(ILogger logger, string file);

    [LoggerMessage(EventId = 4, Level = LogLevel.Warning, Message = "Snapshot {Name}: dropping duplicate record {Id}, keeping {Kept} (a crash between two steps)")]
    private static partial void LogDuplicateRemoved(ILogger logger, string name, long id, long kept);

    [LoggerMessage(EventId = 5, Level = LogLevel.Warning, Message = "Snapshot {Name} ({Id}): its directory is gone; dropping the record")]
    private static partial void LogMissingDirectoryDropped(ILogger logger, string name, long id);
}

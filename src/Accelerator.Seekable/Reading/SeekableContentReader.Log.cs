using Microsoft.Extensions.Logging;

namespace Accelerator.Seekable.Reading;

public sealed partial class SeekableContentReader
{
    [LoggerMessage(1, LogLevel.Warning, "Ranged read of {Blob} at {Offset}+{Length} failed: {Reason}")]
    private partial void LogFetchFailed(string blob, long offset, int length, string reason);

    [LoggerMessage(2, LogLevel.Error, "Unit {Unit} of layer {Layer} is not valid and was neither served nor cached: {Reason}")]
    private partial void LogUnitInvalid(string layer, int unit, string reason);

    [LoggerMessage(3, LogLevel.Debug, "Prefetch of inode {Inode} left a unit absent: {Reason}")]
    private partial void LogPrefetchFailed(ulong inode, string reason);
}

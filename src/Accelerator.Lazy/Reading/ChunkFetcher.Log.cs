using Microsoft.Extensions.Logging;

namespace Accelerator.Lazy.Reading;

internal sealed partial class ChunkFetcher
{
    [LoggerMessage(1, LogLevel.Warning, "Ranged read of {Blob} at {Offset}+{Length} failed: {Reason}")]
    private partial void LogFetchFailed(string blob, long offset, int length, string reason);

    [LoggerMessage(2, LogLevel.Error, "Chunk {Chunk} from {Blob} is not valid and was not served nor cached: {Reason}")]
    private partial void LogChunkInvalid(string chunk, string blob, string reason);
}

using Microsoft.Extensions.Logging;

namespace Accelerator.Chunks.Caching;

public sealed partial class ChunkCache
{
    [LoggerMessage(1, LogLevel.Debug, "Chunk cache {Directory} opened with {Chunks} chunk files, {Bytes} bytes")]
    private partial void LogOpened(string directory, int chunks, long bytes);

    [LoggerMessage(2, LogLevel.Warning, "Cached chunk file {Path} is damaged (size or digest); deleted, the chunk will be fetched again")]
    private partial void LogCorrupt(string path);

    [LoggerMessage(3, LogLevel.Warning, "Could not store chunk {Digest} in the cache ({Reason}); served from memory")]
    private partial void LogStoreFailed(string digest, string reason);

    [LoggerMessage(4, LogLevel.Warning, "Could not delete {Path}: {Reason}")]
    private partial void LogDeleteFailed(string path, string reason);

    [LoggerMessage(5, LogLevel.Warning, "Could not read cached chunk file {Path}: {Reason}")]
    private partial void LogReadFailed(string path, string reason);

    [LoggerMessage(6, LogLevel.Debug, "Cached file of chunk {Digest} vanished; it will be fetched again")]
    private partial void LogVanished(string digest);
}

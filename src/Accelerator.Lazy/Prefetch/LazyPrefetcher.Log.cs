using Microsoft.Extensions.Logging;

namespace Accelerator.Lazy.Prefetch;

public sealed partial class LazyPrefetcher
{
    [LoggerMessage(1, LogLevel.Debug, "Prefetch started: {Files} files in the prefetch list, all chunks after them: {All}")]
    private partial void LogStarted(int files, bool all);

    [LoggerMessage(2, LogLevel.Information, "Prefetch completed: {Chunks} chunks, {Bytes} bytes, {Errors} errors in {Elapsed}")]
    private partial void LogCompleted(long chunks, long bytes, long errors, TimeSpan elapsed);

    [LoggerMessage(3, LogLevel.Debug, "Prefetch canceled after {Chunks} chunks")]
    private partial void LogCanceled(long chunks);

    [LoggerMessage(4, LogLevel.Warning, "Prefetch failed: {Reason}")]
    private partial void LogFailed(string reason);
}

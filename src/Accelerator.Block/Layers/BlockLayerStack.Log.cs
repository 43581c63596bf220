using Microsoft.Extensions.Logging;

namespace Accelerator.Block.Layers;

public sealed partial class BlockLayerStack
{
    [LoggerMessage(1, LogLevel.Debug, "Prefetch trace of {Blocks} blocks replayed; {Prefetched} blocks fetched")]
    private partial void LogPrefetchCompleted(int blocks, long prefetched);

    [LoggerMessage(2, LogLevel.Warning, "Prefetch trace replay failed: {Reason}")]
    private partial void LogPrefetchFailed(string reason);
}

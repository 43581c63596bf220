using Microsoft.Extensions.Logging;

namespace Accelerator.Snapshotter.Overlay;

public sealed partial class OverlaySnapshotter
{
    [LoggerMessage(EventId = 10, Level = LogLevel.Debug, Message = "Created {Kind} snapshot {Key} on parent '{Parent}' (id {Id})")]
    private static partial void LogCreated(ILogger logger, string kind, string key, string parent, long id);

    [LoggerMessage(EventId = 11, Level = LogLevel.Debug, Message = "Committed {Key} as {Name} (id {Id})")]
    private static partial void LogCommitted(ILogger logger, string key, string name, long id);

    [LoggerMessage(EventId = 12, Level = LogLevel.Debug, Message = "Removed snapshot {Key} (id {Id})")]
    private static partial void LogRemoved(ILogger logger, string key, long id);

    [LoggerMessage(EventId = 13, Level = LogLevel.Information, Message = "Layer {ChainId} provided by {Provider} for {Key}: containerd downloads nothing for it")]
    private static partial void LogProvided(ILogger logger, string chainId, string provider, string key);

    [LoggerMessage(EventId = 14, Level = LogLevel.Information, Message = "Layer {Name} adopted by {Provider}")]
    private static partial void LogAdopted(ILogger logger, string name, string provider);

    [LoggerMessage(EventId = 15, Level = LogLevel.Warning, Message = "Layer provider {Provider} failed to {Operation} {Key}; going on without it")]
    private static partial void LogProviderFailed(ILogger logger, string provider, string operation, string key, Exception exception);
}

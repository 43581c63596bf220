using Microsoft.Extensions.Logging;

namespace Accelerator.Snapshotter.Hosting;

public sealed partial class SnapshotterServer
{
    [LoggerMessage(EventId = 20, Level = LogLevel.Information, Message = "Snapshotter listening on {Address} (root {Root})")]
    private static partial void LogListening(ILogger logger, string address, string root);

    [LoggerMessage(EventId = 21, Level = LogLevel.Information, Message = "Snapshotter on {Address} stopped")]
    private static partial void LogStopped(ILogger logger, string address);
}

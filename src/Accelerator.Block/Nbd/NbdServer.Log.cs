using Microsoft.Extensions.Logging;

namespace Accelerator.Block.Nbd;

public sealed partial class NbdServer
{
    [LoggerMessage(Level = LogLevel.Information, Message = "NBD server listening on {Endpoint} with {Exports} export(s).")]
    private partial void LogListening(string endpoint, int exports);

    [LoggerMessage(Level = LogLevel.Information, Message = "NBD server stopped.")]
    private partial void LogStopped();

    [LoggerMessage(Level = LogLevel.Warning, Message = "Accepting on {Endpoint} failed; the listener stops.")]
    private partial void LogAcceptFailed(string endpoint, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "NBD connection {Connection} refused: {Max} connections are open.")]
    private partial void LogConnectionRefused(long connection, int max);
}

using Accelerator.Block.Nbd.Protocol;
using Microsoft.Extensions.Logging;

namespace Accelerator.Block.Nbd;

internal sealed partial class NbdConnection
{
    [LoggerMessage(Level = LogLevel.Debug, Message = "NBD connection {Connection}: option {Option} with {Length} bytes.")]
    private partial void LogOption(long connection, NbdOption option, uint length);

    [LoggerMessage(Level = LogLevel.Debug, Message = "NBD connection {Connection}: option {Option} answered {Reply}.")]
    private partial void LogOptionRefused(long connection, NbdOption option, NbdOptionReplyType reply);

    [LoggerMessage(Level = LogLevel.Information, Message = "NBD connection {Connection}: bad {Option} data: {Reason}")]
    private partial void LogBadOption(long connection, NbdOption option, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "NBD connection {Connection} asked for unknown export '{Name}'.")]
    private partial void LogUnknownExport(long connection, string name);

    [LoggerMessage(Level = LogLevel.Information, Message = "NBD connection {Connection} serves export '{Name}' (read-only: {ReadOnly}).")]
    private partial void LogTransmission(long connection, string name, bool readOnly);

    [LoggerMessage(Level = LogLevel.Warning, Message = "NBD connection {Connection} did not finish its handshake within {Timeout}; disconnected.")]
    private partial void LogHandshakeTimeout(long connection, TimeSpan timeout);

    [LoggerMessage(Level = LogLevel.Warning, Message = "NBD connection {Connection} broke the protocol and is disconnected: {Reason}")]
    private partial void LogProtocolViolation(long connection, string reason);

    [LoggerMessage(Level = LogLevel.Debug, Message = "NBD connection {Connection} lost: {Reason}")]
    private partial void LogConnectionLost(long connection, string reason);

    [LoggerMessage(Level = LogLevel.Error, Message = "NBD connection {Connection} failed.")]
    private partial void LogConnectionFailed(long connection, Exception exception);

    [LoggerMessage(Level = LogLevel.Debug, Message = "NBD connection {Connection} closed.")]
    private partial void LogClosed(long connection);

    [LoggerMessage(Level = LogLevel.Debug, Message = "NBD connection {Connection}: the client closed the connection.")]
    private partial void LogClientClosed(long connection);

    [LoggerMessage(Level = LogLevel.Debug, Message = "NBD connection {Connection}: NBD_CMD_DISC.")]
    private partial void LogDisconnect(long connection);

    [LoggerMessage(Level = LogLevel.Information, Message = "NBD connection {Connection}: {Command} (flags {Flags}) at {Offset} length {Length} refused with {Error}.")]
    private partial void LogRequestRefused(long connection, NbdCommand command, NbdCommandFlags flags, ulong offset, uint length, NbdError error);

    [LoggerMessage(Level = LogLevel.Warning, Message = "NBD connection {Connection}: {Command} at {Offset} length {Length} failed, answered {Error}.")]
    private partial void LogRequestFailed(long connection, NbdCommand command, ulong offset, uint length, NbdError error, Exception exception);

    [LoggerMessage(Level = LogLevel.Debug, Message = "NBD connection {Connection}: the reply to {Command} was not sent: {Reason}")]
    private partial void LogReplyFailed(long connection, NbdCommand command, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "NBD connection {Connection} was idle for {Timeout}; disconnected.")]
    private partial void LogIdleTimeout(long connection, TimeSpan timeout);

    [LoggerMessage(Level = LogLevel.Information, Message = "NBD connection {Connection}: TLS handshake failed: {Reason}")]
    private partial void LogTlsFailed(long connection, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "NBD connection {Connection}: TLS is required; option {Option} before STARTTLS refused.")]
    private partial void LogTlsRequired(long connection, NbdOption option);

    [LoggerMessage(Level = LogLevel.Debug, Message = "NBD connection {Connection}: TLS established ({Protocol}, client certificate: {ClientCertificate}).")]
    private partial void LogTlsEstablished(long connection, System.Security.Authentication.SslProtocols protocol, bool clientCertificate);
}

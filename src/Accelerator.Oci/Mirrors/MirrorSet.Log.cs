using Microsoft.Extensions.Logging;

namespace Accelerator.Oci.Mirrors;

internal sealed partial class MirrorSet
{
    [LoggerMessage(Level = LogLevel.Debug, Message = "{Host} holds {Repository}@{Digest}: {Present}.")]
    private partial void LogPresence(string host, string repository, Digest digest, bool present);

    [LoggerMessage(Level = LogLevel.Information, Message = "{Source} failed ({Reason}): {Error}")]
    private partial void LogHostFailed(string source, string reason, string error);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Host} failed {Failures} times in a row; left alone for {Seconds:F1} s.")]
    private partial void LogHostOpened(string host, int failures, double seconds);

    [LoggerMessage(Level = LogLevel.Information, Message = "{Host} answers again; back in use.")]
    private partial void LogRecovered(string host);

    [LoggerMessage(Level = LogLevel.Information, Message = "{What}: moving on from {Source} ({Reason}).")]
    private partial void LogFailover(string what, string source, string reason);
}

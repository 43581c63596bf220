using Microsoft.Extensions.Logging;

namespace Accelerator.P2P.Proxy;

public sealed partial class RegistryMirrorProxy
{
    [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "Registry mirror proxy listening on {Url} (upstream {Upstream})")]
    private partial void LogStarted(string url, string upstream);

    [LoggerMessage(EventId = 2, Level = LogLevel.Warning, Message = "Upstream {Registry} failed for {Path}: {Error}")]
    private partial void LogUpstreamFailed(string registry, string path, string error);

    [LoggerMessage(EventId = 3, Level = LogLevel.Warning, Message = "Blob {Blob} failed while being served: {Error}")]
    private partial void LogBlobFailed(string blob, string error);

    [LoggerMessage(EventId = 4, Level = LogLevel.Debug, Message = "{Method} {Path} -> {Status}")]
    private partial void LogRequest(string method, string path, int status);
}

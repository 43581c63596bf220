using Microsoft.Extensions.Logging;

namespace Accelerator.Hosting.Layout;

public sealed partial class OciLayoutRegistryServer
{
    [LoggerMessage(1, LogLevel.Debug, "Serving the OCI layout {Layout} as repository {Repository} on {Url}")]
    private partial void LogStarted(string url, string repository, string layout);

    [LoggerMessage(2, LogLevel.Error, "Refused to serve {Digest}: the layout's content ({Path}) does not match its digest")]
    private partial void LogCorruptBlob(string digest, string path);
}

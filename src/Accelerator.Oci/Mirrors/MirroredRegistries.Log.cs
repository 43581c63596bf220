using Microsoft.Extensions.Logging;

namespace Accelerator.Oci.Mirrors;

public sealed partial class MirroredRegistries
{
    [LoggerMessage(Level = LogLevel.Debug, Message = "Mirror set of {Registry}: mirrors [{Mirrors}], origin {Origin}, policy {Policy}.")]
    private partial void LogMirrorSet(string registry, string mirrors, string origin, LoadBalancingPolicy policy);
}

using Microsoft.Extensions.Logging;

namespace Accelerator.P2P.Scheduling;

public sealed partial class P2PSchedulerService
{
    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Warning, "Peer {PeerId} may not read {Digest}: the registry answered {Status}.")]
        public static partial void AccessDenied(ILogger logger, string peerId, string digest, int status);

        [LoggerMessage(2, LogLevel.Warning, "A registry request failed: {Message}")]
        public static partial void RegistryFailed(ILogger logger, string message);

        [LoggerMessage(3, LogLevel.Information, "Preheating {Image}: {Blobs} blobs for {Seeds} seed peers.")]
        public static partial void Preheat(ILogger logger, string image, int blobs, int seeds);

        [LoggerMessage(4, LogLevel.Warning, "A request was refused at a limit: {Message}")]
        public static partial void LimitReached(ILogger logger, string message);
    }
}

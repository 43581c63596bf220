using Accelerator.P2P.Protocol;
using Microsoft.Extensions.Logging;

namespace Accelerator.P2P.Scheduling;

public sealed partial class P2PScheduler
{
    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Debug, "Peer {PeerId} joined at {Url} (seed: {Seed}).")]
        public static partial void PeerJoined(ILogger logger, string peerId, string url, bool seed);

        [LoggerMessage(2, LogLevel.Information, "Peer {PeerId} stopped reporting and was forgotten.")]
        public static partial void PeerForgotten(ILogger logger, string peerId);

        [LoggerMessage(3, LogLevel.Trace, "Assigned {Count} pieces of {Task} to {PeerId} ({Origin} from the registry).")]
        public static partial void PiecesAssigned(ILogger logger, string peerId, Digest task, int count, int origin);

        [LoggerMessage(4, LogLevel.Warning, "Parent {PeerId} banned for {Task} ({Failure}).")]
        public static partial void ParentBanned(ILogger logger, string peerId, Digest task, PieceFailure failure);

        [LoggerMessage(5, LogLevel.Warning, "Peer {PeerId} found blob {Task} does not match its digest; the task's piece records were dropped.")]
        public static partial void TaskReset(ILogger logger, Digest task, string peerId);
    }
}

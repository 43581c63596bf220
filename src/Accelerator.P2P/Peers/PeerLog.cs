using Accelerator.P2P.Protocol;
using Microsoft.Extensions.Logging;

namespace Accelerator.P2P.Peers;

/// <summary>The peer's log messages (its collaborators log under the peer's category).</summary>
internal static partial class PeerLog
{
    [LoggerMessage(1, LogLevel.Information, "Peer {PeerId} serving pieces at {Url} (seed: {Seed}).")]
    public static partial void Started(ILogger logger, string peerId, Uri url, bool seed);

    [LoggerMessage(2, LogLevel.Warning, "Scheduler {Scheduler} did not answer: {Reason}")]
    public static partial void SchedulerUnavailable(ILogger logger, Uri scheduler, string reason);

    [LoggerMessage(3, LogLevel.Warning, "No scheduler answered for {Digest}; reading it straight from the registry ({Reason}).")]
    public static partial void OriginFallback(ILogger logger, Digest digest, string reason);

    [LoggerMessage(4, LogLevel.Warning, "Piece {Index} of {Task} from parent {ParentId} failed ({Failure}): {Reason}")]
    public static partial void ParentFailed(ILogger logger, string parentId, Digest task, int index, PieceFailure failure, string reason);

    [LoggerMessage(5, LogLevel.Warning, "Back-to-source read of piece {Index} of {Task} failed: {Reason}")]
    public static partial void OriginFailed(ILogger logger, Digest task, int index, string reason);

    [LoggerMessage(6, LogLevel.Error, "The pieces of {Task} do not form the blob; they were deleted.")]
    public static partial void BlobCorrupt(ILogger logger, Digest task);

    [LoggerMessage(7, LogLevel.Information, "Preheated {Digest}.")]
    public static partial void Preheated(ILogger logger, Digest digest);

    [LoggerMessage(8, LogLevel.Warning, "Preheating {Digest} failed: {Reason}")]
    public static partial void PreheatFailed(ILogger logger, Digest digest, string reason);

    [LoggerMessage(9, LogLevel.Warning, "A heartbeat round failed: {Reason}")]
    public static partial void HeartbeatFailed(ILogger logger, string reason);
}

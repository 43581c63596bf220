using Microsoft.Extensions.Logging;

namespace Accelerator.Fuse.Takeover;

public sealed partial class FuseHolder
{
    [LoggerMessage(1, LogLevel.Information, "Another FUSE holder already serves {Directory}")]
    private partial void LogAlreadyRunning(string directory);

    [LoggerMessage(2, LogLevel.Information, "FUSE holder listening on {SocketPath} (pid {Pid})")]
    private partial void LogListening(string socketPath, int pid);

    [LoggerMessage(3, LogLevel.Warning, "Refused a holder client: process {Pid} runs as uid {Uid}, the holder as uid {HolderUid}")]
    private partial void LogForeignPeer(int pid, uint uid, uint holderUid);

    [LoggerMessage(4, LogLevel.Debug, "Holder client connected: process {Pid}")]
    private partial void LogClientConnected(int pid);

    [LoggerMessage(5, LogLevel.Warning, "Closing the connection of process {Pid}: {Reason}")]
    private partial void LogBadFrame(int pid, string reason);

    [LoggerMessage(6, LogLevel.Warning, "The connection of process {Pid} failed: {Reason}")]
    private partial void LogClientFailed(int pid, string reason);

    [LoggerMessage(7, LogLevel.Information, "Holding {Key} for process {Pid} ({Count} held)")]
    private partial void LogDeposited(string key, int pid, int count);

    [LoggerMessage(8, LogLevel.Information, "Asking process {OwnerPid} to release {Key} for process {ClaimantPid}")]
    private partial void LogReleasing(string key, int ownerPid, int claimantPid);

    [LoggerMessage(9, LogLevel.Information, "Process {Pid} claimed {Key} (predecessor {PredecessorPid})")]
    private partial void LogClaimed(string key, int pid, int? predecessorPid);

    [LoggerMessage(10, LogLevel.Warning, "Process {Pid} (this process or the claimant's) did not release {Key} within {Timeout}: disconnecting it")]
    private partial void LogOwnerDisconnected(string key, int pid, TimeSpan timeout);

    [LoggerMessage(11, LogLevel.Warning, "Process {Pid} did not release {Key} within {Timeout}: killing it")]
    private partial void LogKillingOwner(string key, int pid, TimeSpan timeout);

    [LoggerMessage(12, LogLevel.Information, "Process {Pid} forgot {Key} ({Count} held)")]
    private partial void LogForgotten(string key, int pid, int count);

    [LoggerMessage(13, LogLevel.Information, "Holder client disconnected: process {Pid} ({Orphaned} connections wait for a claimant)")]
    private partial void LogClientDisconnected(int pid, int orphaned);

    [LoggerMessage(14, LogLevel.Information, "Holding nothing and no client for {IdleExit}: exiting")]
    private partial void LogIdleExit(TimeSpan idleExit);

    [LoggerMessage(15, LogLevel.Warning, "Stopping while holding {Count} connections ({Keys}): those whose server is gone end now")]
    private partial void LogStoppingWithEntries(int count, string keys);

    [LoggerMessage(16, LogLevel.Error, "poll of the held devices failed: {Reason}")]
    private partial void LogPollFailed(string reason);

    [LoggerMessage(17, LogLevel.Information, "The FUSE connection of {Key} ended (unmounted or aborted): dropped ({Count} held)")]
    private partial void LogConnectionEnded(string key, int count);
}

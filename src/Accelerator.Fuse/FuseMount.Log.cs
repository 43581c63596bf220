using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;

namespace Accelerator.Fuse;

public sealed partial class FuseMount
{
    [LoggerMessage(1, LogLevel.Information, "Mounted FUSE at {MountPoint} (connection {ConnectionId})")]
    private partial void LogMounted(string mountPoint, uint connectionId);

    [LoggerMessage(2, LogLevel.Information, "Unmounted {MountPoint}")]
    private partial void LogUnmounted(string mountPoint);

    [LoggerMessage(3, LogLevel.Information, "{MountPoint} is busy: detached lazily; open files are served until closed")]
    private partial void LogDetached(string mountPoint);

    [LoggerMessage(4, LogLevel.Warning, "Unmounting {MountPoint} failed")]
    private partial void LogUnmountFailed(string mountPoint, Exception exception);

    [LoggerMessage(5, LogLevel.Warning, "Aborted the FUSE connection {ConnectionId} of {MountPoint}")]
    private partial void LogAborted(string mountPoint, uint connectionId);

    [LoggerMessage(6, LogLevel.Warning, "The FUSE connection of {MountPoint} did not end within {Timeout} of unmounting: aborting it")]
    private partial void LogAbortingAfterUnmount(string mountPoint, TimeSpan timeout);

    [LoggerMessage(7, LogLevel.Warning, "Cannot set the readahead at {Path}: {Reason}")]
    private partial void LogReadAheadFailed(string path, string reason);

    [LoggerMessage(8, LogLevel.Information, "{Signal}: unmounting {MountPoint}")]
    private partial void LogSignal(PosixSignal signal, string mountPoint);

    [LoggerMessage(10, LogLevel.Information, "{MountPoint} (connection {ConnectionId}) will be left mounted for a successor")]
    private partial void LogLeavingMounted(string mountPoint, uint connectionId);

    [LoggerMessage(11, LogLevel.Information, "Stopped serving {MountPoint} (connection {ConnectionId}); left mounted for a successor")]
    private partial void LogLeftMounted(string mountPoint, uint connectionId);

    [LoggerMessage(12, LogLevel.Information, "{Signal}: handing over, {MountPoint} stays mounted; stopping serving it")]
    private partial void LogSignalLeavingMounted(PosixSignal signal, string mountPoint);

    [LoggerMessage(13, LogLevel.Information, "Resumed FUSE at {MountPoint} (connection {ConnectionId}); kernel resends unanswered requests: {Resend}")]
    private partial void LogResumed(string mountPoint, uint connectionId, bool resend);

    [LoggerMessage(9, LogLevel.Warning, "{Signal} is ignored by this process (inherited, e.g. a background job of a shell): it will not unmount {MountPoint}; SIGTERM will")]
    private partial void LogSignalIgnored(PosixSignal signal, string mountPoint);
}

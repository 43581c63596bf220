using Accelerator.Fuse.Protocol;
using Microsoft.Extensions.Logging;

namespace Accelerator.Fuse;

public sealed partial class FuseSession
{
    [LoggerMessage(1, LogLevel.Information, "FUSE connection initialised: kernel {KernelMajor}.{KernelMinor}, protocol 7.{Minor}, max read {MaxRead} bytes, flags {Flags}")]
    private partial void LogInitialized(uint kernelMajor, uint kernelMinor, uint minor, int maxRead, FuseInitFlags flags);

    [LoggerMessage(2, LogLevel.Warning, "FUSE INIT refused: the kernel speaks protocol {Major}.{Minor}")]
    private partial void LogInitRefused(uint major, uint minor);

    [LoggerMessage(3, LogLevel.Debug, "FUSE connection ended (errno {Errno})")]
    private partial void LogConnectionEnded(int errno);

    [LoggerMessage(4, LogLevel.Error, "Reading /dev/fuse failed: {Error}")]
    private partial void LogReadFailed(string error);

    [LoggerMessage(5, LogLevel.Error, "A FUSE reader stopped unexpectedly")]
    private partial void LogReaderCrashed(Exception exception);

    [LoggerMessage(6, LogLevel.Warning, "Malformed FUSE request (opcode {Opcode}, unique {Unique}): {Reason}")]
    private partial void LogMalformed(uint opcode, ulong unique, string reason);

    [LoggerMessage(7, LogLevel.Warning, "FUSE {Opcode} of node {NodeId} failed")]
    private partial void LogOperationFailed(FuseOpcode opcode, ulong nodeId, Exception exception);

    [LoggerMessage(8, LogLevel.Debug, "The kernel refused a reply (errno {Errno})")]
    private partial void LogReplyRefused(int errno);

    [LoggerMessage(9, LogLevel.Debug, "FUSE DESTROY received")]
    private partial void LogDestroy();

    [LoggerMessage(10, LogLevel.Warning, "Read of node {NodeId} took longer than {Timeout}: answered EIO")]
    private partial void LogReadTimedOut(ulong nodeId, TimeSpan timeout);

    [LoggerMessage(11, LogLevel.Warning, "Read of node {NodeId} failed")]
    private partial void LogReadFailed(ulong nodeId, Exception exception);

    [LoggerMessage(12, LogLevel.Debug, "Request {Unique} interrupted")]
    private partial void LogInterrupted(ulong unique);

    [LoggerMessage(13, LogLevel.Information, "FUSE session resumed without INIT: kernel {KernelMajor}.{KernelMinor}, protocol 7.{Minor}; unanswered requests resent: {Resent}")]
    private partial void LogResumed(uint kernelMajor, uint kernelMinor, uint minor, bool resent);

    [LoggerMessage(14, LogLevel.Warning, "The kernel refused FUSE_NOTIFY_RESEND (errno {Errno}): requests the predecessor read and did not answer stay unanswered")]
    private partial void LogResendFailed(int errno);

    [LoggerMessage(15, LogLevel.Information, "FUSE session stopping: {Readers} readers, {InFlight} reads in flight")]
    private partial void LogStopping(int readers, int inFlight);

    [LoggerMessage(16, LogLevel.Information, "FUSE session stopped reading (all readers gone: {ReadersGone}); {Unanswered} reads left unanswered in the kernel for a successor")]
    private partial void LogStopped(int unanswered, bool readersGone);

    [LoggerMessage(18, LogLevel.Warning, "Cannot wake {Readers} FUSE readers (no file to retrieve, no mount point): they leave after the next request they read")]
    private partial void LogWakeFailed(int readers);

    [LoggerMessage(19, LogLevel.Debug, "FUSE_NOTIFY_RETRIEVE of node {NodeId} refused (errno {Errno}): waking the readers with statfs")]
    private partial void LogRetrieveRefused(ulong nodeId, int errno);

    [LoggerMessage(17, LogLevel.Debug, "READDIR of handle {Handle} this session did not open: listing of node {NodeId} rebuilt")]
    private partial void LogListingRebuilt(ulong handle, ulong nodeId);
}

using Microsoft.Extensions.Logging;

namespace Accelerator.Replication;

public sealed partial class Replicator
{
    [LoggerMessage(1, LogLevel.Information, "Replicated {Source} to {Target} ({Digest}): {Copied} blobs copied, {Mounted} mounted, {Skipped} present, {Bytes} bytes")]
    private partial void LogCopied(string source, string target, string digest, int copied, int mounted, int skipped, long bytes);

    [LoggerMessage(2, LogLevel.Debug, "{Target} already holds {Source} ({Digest})")]
    private partial void LogSkipped(string source, string target, string digest);

    [LoggerMessage(3, LogLevel.Warning, "Replicating {Source} to {Target} failed: {Error}")]
    private partial void LogFailed(string source, string target, string error);

    [LoggerMessage(4, LogLevel.Information, "Deleted {Target} ({Digest}): the source no longer has it")]
    private partial void LogDeleted(string target, string digest);

    [LoggerMessage(5, LogLevel.Information, "{Source} is gone at the source; nothing to replicate")]
    private partial void LogGone(string source);

    [LoggerMessage(6, LogLevel.Warning, "Listing the tags of {Registry}/{Repository} failed: {Error}")]
    private partial void LogListingFailed(string registry, string repository, string error);
}

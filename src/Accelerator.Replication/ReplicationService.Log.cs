using Microsoft.Extensions.Logging;

namespace Accelerator.Replication;

public sealed partial class ReplicationService
{
    [LoggerMessage(1, LogLevel.Information, "Listening for registry notifications on {Url}; {Queued} queued event(s) resumed")]
    private partial void LogStarted(string url, int queued);

    [LoggerMessage(2, LogLevel.Debug, "Queued {Source}/{Repository}:{Tag} ({Digest}) as #{Sequence}")]
    private partial void LogQueued(string source, string repository, string tag, string digest, long sequence);

    [LoggerMessage(3, LogLevel.Information, "Replicated {Source}/{Repository}:{Tag} ({Digest}): {Targets}; {LatencyMs:0} ms after the event")]
    private partial void LogReplicated(string source, string repository, string tag, string digest, string targets, double latencyMs);

    [LoggerMessage(4, LogLevel.Warning, "Replicating {Source}/{Repository}:{Tag} failed (attempt {Attempt}), retrying in {DelaySeconds:0.#} s: {Error}")]
    private partial void LogRetrying(string source, string repository, string tag, int attempt, double delaySeconds, string error);

    [LoggerMessage(5, LogLevel.Warning, "Refused a notification with {Status}: {Reason}")]
    private partial void LogRejected(int status, string reason);

    [LoggerMessage(7, LogLevel.Debug, "{Source}/{Repository}:{Tag} is not visible at the source yet; looking again in {WaitMs:0} ms")]
    private partial void LogTagNotYetVisible(string source, string repository, string tag, double waitMs);

    [LoggerMessage(8, LogLevel.Warning, "Refused a push event for {Repository}:{Tag} naming registry {Host}, which is not a configured source (sent from {Sender})")]
    private partial void LogForeignSource(string host, string repository, string tag, string sender);

    [LoggerMessage(6, LogLevel.Error, "Could not write to the replication queue: {Error}")]
    private partial void LogQueueWriteFailed(string error);
}

using Microsoft.Extensions.Logging;

namespace Accelerator.Oci.Registry;

public sealed partial class RegistryClient
{
    [LoggerMessage(1, LogLevel.Debug, "Retry {Attempt} after {Reason}, waiting {Delay}")]
    private partial void LogRetrying(int attempt, string reason, TimeSpan delay);

    [LoggerMessage(2, LogLevel.Debug, "Redirect {Status} from {From} to {To} (authorization dropped: {Dropped})")]
    private partial void LogRedirect(int status, string from, string to, bool dropped);

    [LoggerMessage(3, LogLevel.Debug, "{Registry} challenged with {Scheme} {Scope}")]
    private partial void LogChallenge(string registry, string scheme, string scope);

    [LoggerMessage(4, LogLevel.Debug, "Token for {Registry} ({Scopes}) valid for {Lifetime}")]
    private partial void LogTokenFetched(string registry, string scopes, TimeSpan lifetime);

    [LoggerMessage(5, LogLevel.Information, "Pushed manifest {Registry}/{Repository}:{Reference} ({Digest})")]
    private partial void LogManifestPushed(string registry, string repository, string reference, string digest);

    [LoggerMessage(6, LogLevel.Debug, "Blob {Registry}/{Repository}@{Digest} exists, upload skipped")]
    private partial void LogBlobExists(string registry, string repository, string digest);

    [LoggerMessage(7, LogLevel.Debug, "Uploaded blob {Registry}/{Repository}@{Digest}: {Bytes} bytes in {Requests} request(s)")]
    private partial void LogBlobUploaded(string registry, string repository, string digest, long bytes, int requests);

    [LoggerMessage(8, LogLevel.Debug, "Mounted blob {Digest} from {From} into {Registry}/{Repository}")]
    private partial void LogBlobMounted(string registry, string from, string repository, string digest);

    [LoggerMessage(9, LogLevel.Warning, "{Registry}/{Repository} ignored a Range request; skipping {Offset} bytes of the whole blob")]
    private partial void LogRangeIgnored(string registry, string repository, long offset);

    [LoggerMessage(10, LogLevel.Information, "{Registry} refused the {Scheme} authorization for {Scopes} ({Source}); reading the credentials again and retrying once")]
    private partial void LogRefused(string registry, string scopes, string scheme, string source);
}

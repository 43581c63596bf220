using Accelerator.Oci.Registry;

namespace Accelerator.Oci.Mirrors;

/// <summary>
/// The one failover loop of a mirror set: tries the hosts of a plan in order, each in a <see cref="MirrorAttempt"/>
/// (request counted, stall guard, cancellation linked); classifies what went wrong — not found (404: try the next host,
/// the host is healthy), a host failure (an error, a stall, bad bytes: counted against the host's health, then the
/// next host), or anything else (not the host's fault: it ends the operation) — and, when every host has failed,
/// throws one exception saying what each host did (<see cref="FailoverErrors"/>). Every operation of
/// <see cref="MirroredBlobSource"/> and <see cref="MirroredImageStore"/> goes through it.
/// </summary>
internal static class MirrorFailover
{
    /// <summary>Failures of a blob read that are the host's: transport errors, timeouts and stalls.</summary>
    public static bool IsTransportFailure(Exception error)
        => error is IOException or HttpRequestException or OperationCanceledException or TimeoutException;

    /// <summary>Failures of a manifest read that are the host's: transport errors, stalls, and documents that do not parse.</summary>
    public static bool IsManifestFailure(Exception error)
        => error is IOException or HttpRequestException or OperationCanceledException or FormatException;

    /// <summary>"stalled" when the stall guard fired, else "error".</summary>
    public static string StalledOrError(Exception error, bool stalled) => stalled ? "stalled" : "error";

    /// <summary>
    /// Runs <paramref name="attempt"/> at each host of <paramref name="routes"/> in order until one returns. The list
    /// may grow while the loop runs (a download gives hosts another chance by appending them).
    /// </summary>
    /// <exception cref="BlobNotFoundException">Every host said it does not have it.</exception>
    /// <exception cref="RegistryException">Every host failed or lacked it (the message lists each).</exception>
    /// <exception cref="DigestMismatchException">Every host failed, the last with bytes that did not verify.</exception>
    public static async Task<T> RunAsync<T>(MirrorSet set, IReadOnlyList<MirrorRoute> routes, FailoverRules rules, Func<MirrorAttempt, Task<T>> attempt, CancellationToken cancellationToken)
    {
        var errors = new FailoverErrors();
        for (int index = 0; index < routes.Count; index++)
        {
            var route = routes[index];
            using var current = new MirrorAttempt(set, route, index, rules.StallFromStart, cancellationToken);
            try
            {
                return await attempt(current).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                throw;
            }
            catch (BlobNotFoundException)
            {
                errors.NotFound(route);
                rules.OnNotFound?.Invoke(route);
                if (rules.LogNotFound)
                {
                    set.LogFallback(rules.What, route, "not found");
                }
            }
            catch (RejectedAnswerException rejected)
            {
                errors.Failed(route, rejected.Reason, rejected.InnerException!);
                if (rejected.HealthReason is { } health)
                {
                    set.ReportFailure(route, health, rejected.InnerException);
                }

                set.LogFallback(rules.What, route, rejected.LogReason);
            }
            catch (Exception ex) when (rules.IsHostFailure(ex))
            {
                string reason = rules.Reason(ex, current.Stalled);
                errors.Failed(route, reason, ex);
                set.ReportFailure(route, reason, ex);
                if (rules.LogFailures)
                {
                    set.LogFallback(rules.What, route, reason);
                }

                if (rules.AfterFailure is { } after)
                {
                    await after().ConfigureAwait(false);
                }
            }
        }

        throw errors.ToException(rules.Subject, set.Registry);
    }
}

/// <summary>How one operation fails over: what it is called, which errors are the host's, what is logged.</summary>
internal sealed record FailoverRules
{
    /// <summary>What is being read, for the fallback log (<c>blob sha256:…</c>).</summary>
    public required string What { get; init; }

    /// <summary>What is being read, for the exception when every host failed (<c>blob repo@sha256:…</c>).</summary>
    public required string Subject { get; init; }

    /// <summary>Which exceptions are the host's failure; default <see cref="MirrorFailover.IsTransportFailure"/>.</summary>
    public Func<Exception, bool> IsHostFailure { get; init; } = MirrorFailover.IsTransportFailure;

    /// <summary>The reason recorded for a host failure (health metrics, logs), given whether the stall guard fired.</summary>
    public Func<Exception, bool, string> Reason { get; init; } = MirrorFailover.StalledOrError;

    /// <summary>
    /// True: the stall guard bounds the whole attempt from its start (HEAD, manifests); false: it starts disarmed and
    /// the attempt arms it around each wait for bytes. Never armed for the origin when set from the start.
    /// </summary>
    public bool StallFromStart { get; init; }

    /// <summary>Whether a host lacking it is logged as a fallback.</summary>
    public bool LogNotFound { get; init; } = true;

    /// <summary>Whether a host failure is logged as a fallback.</summary>
    public bool LogFailures { get; init; } = true;

    /// <summary>Called when a host says it does not have it (after it is counted).</summary>
    public Action<MirrorRoute>? OnNotFound { get; init; }

    /// <summary>Called after a host failure is recorded, before the next host is tried.</summary>
    public Func<Task>? AfterFailure { get; init; }
}

/// <summary>
/// Thrown by an attempt that got an answer it must refuse (bytes that do not verify): the loop records
/// <see cref="Reason"/>, counts it against the host's health under <see cref="HealthReason"/> unless that is null (the
/// host cannot be blamed alone), logs <see cref="LogReason"/> and tries the next host.
/// </summary>
internal sealed class RejectedAnswerException(string reason, Exception inner, string? healthReason, string logReason) : Exception(inner.Message, inner)
{
    public string Reason { get; } = reason;

    public string? HealthReason { get; } = healthReason;

    public string LogReason { get; } = logReason;
}

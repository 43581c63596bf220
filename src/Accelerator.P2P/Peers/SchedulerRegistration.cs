using System.Collections.Concurrent;
using System.Net;
using Accelerator.P2P.Protocol;
using Microsoft.Extensions.Logging;

namespace Accelerator.P2P.Peers;

/// <summary>
/// The peer's side of the scheduler ring: the scheduler client (with the secret each scheduler issued this peer),
/// which schedulers are left alone after failing, task registration at the first live scheduler for a blob, the
/// sessions it yields (task, scheduler, tokens, geometry), and calls to a session's scheduler that invalidate the
/// session when the scheduler fails or forgets the task.
/// </summary>
internal sealed class SchedulerRegistration
{
    private const int MaxCheckedAccess = 100_000;

    private readonly P2PPeerOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly PeerCounters _counters;
    private readonly Func<PeerInfo> _self;
    private readonly ConcurrentDictionary<Digest, TaskSession> _sessions = new();
    private readonly ConcurrentDictionary<Uri, long> _deadSchedulers = new();
    private readonly ConcurrentDictionary<(Digest Blob, string Credential), byte> _checkedAccess = new();
    private readonly ConcurrentDictionary<Uri, string> _peerSecrets = new();
    private readonly SchedulerClient _schedulers;

    public SchedulerRegistration(P2PPeerOptions options, HttpClient http, TimeProvider time, ILogger logger, PeerCounters counters, Func<PeerInfo> self)
    {
        _options = options;
        _time = time;
        _logger = logger;
        _counters = counters;
        _self = self;
        _schedulers = new SchedulerClient(http, options.SchedulerTimeout, scheduler => _peerSecrets.TryGetValue(scheduler, out string? secret) ? secret : null, options.OperatorToken);
        Ring = options.Schedulers.Count > 0 ? new SchedulerRing(options.Schedulers) : null;
    }

    /// <summary>The schedulers, in ring order per blob; null when the peer has none (every read goes to the registry).</summary>
    public SchedulerRing? Ring { get; }

    /// <summary>The scheduler client.</summary>
    public SchedulerClient Client => _schedulers;

    /// <summary>The tasks this peer joined, by blob digest.</summary>
    public ConcurrentDictionary<Digest, TaskSession> Sessions => _sessions;

    /// <summary>
    /// The session for the blob's task, or null when there is none (then the caller registers), or
    /// when this source's credential has not yet been checked for the blob: a peer shared by several clients (a proxy)
    /// serves a client's read only after the scheduler confirmed at the registry that the client's credential may read it.
    /// </summary>
    /// <remarks>
    /// A task is a digest at one registry: a session registered through another registry is not reused (the tokens it
    /// holds were earned there), the peer registers again and moves to this registry's task.
    /// </remarks>
    public TaskSession? TryGetCheckedSession(PeerBlobSource source, BlobAddress blob)
        => _sessions.TryGetValue(blob.Digest, out var session)
            && string.Equals(session.Registry, source.Registry, StringComparison.OrdinalIgnoreCase)
            && _checkedAccess.ContainsKey((blob.Digest, source.CredentialKey))
            ? session
            : null;

    /// <summary>
    /// Registers the blob's task at the first live scheduler on the ring (after marking <paramref name="failed"/> dead),
    /// and keeps the session and the fact that this source's credential was checked for the blob.
    /// </summary>
    /// <exception cref="NoSchedulerException">No scheduler answered, or one refused the task for a reason the registry can serve.</exception>
    public async Task<TaskSession> RegisterAsync(PeerBlobSource source, BlobAddress blob, Uri? failed, CancellationToken cancellationToken)
    {
        if (failed is not null)
        {
            MarkDead(failed);
            Interlocked.Increment(ref _counters.SchedulerFailovers);
        }

        var request = new RegisterTaskRequest
        {
            Peer = _self(),
            Blob = new BlobRef { Registry = source.Registry, Repository = blob.Repository, Digest = blob.Digest.Value },
            Credential = source.Credential,
        };
        var order = Ring!.GetOrder(blob.Digest.Value);
        foreach (var scheduler in order)
        {
            if (IsDead(scheduler))
            {
                continue;
            }

            RegisterTaskResponse answer;
            try
            {
                answer = (await _schedulers.PostAsync<RegisterTaskRequest, RegisterTaskResponse>(scheduler, P2PProtocol.RegisterPath, request, cancellationToken).ConfigureAwait(false))!;
            }
            catch (SchedulerUnavailableException ex)
            {
                MarkDead(scheduler);
                PeerLog.SchedulerUnavailable(_logger, scheduler, ex.Message);
                continue;
            }
            catch (SchedulerRejectedException ex)
            {
                throw ex.Status switch
                {
                    HttpStatusCode.NotFound => new BlobNotFoundException($"blob {blob}", source.Registry),
                    HttpStatusCode.Forbidden => new UnauthorizedAccessException($"The scheduler refused {blob}: {ex.Error}"),
                    // Over a limit of the scheduler (blob size, registration rate), or our peer id is held by another
                    // instance the scheduler still knows: read this blob from the registry.
                    HttpStatusCode.RequestEntityTooLarge or HttpStatusCode.TooManyRequests or HttpStatusCode.Unauthorized
                        => new NoSchedulerException($"scheduler {scheduler} refused the task: {ex.Error}"),
                    _ => new P2PProtocolException(ex.Message),
                };
            }

            if (answer.TaskId != blob.Digest.Value || answer.PieceCount != P2PProtocol.PieceCountOf(answer.Size, answer.PieceSize))
            {
                throw new P2PProtocolException($"Scheduler {scheduler} answered a registration for {blob.Digest} with task {answer.TaskId}.");
            }

            TakeSecret(scheduler, answer.PeerSecret);
            var session = new TaskSession(blob.Digest, scheduler, answer.Token, answer.Size, answer.PieceSize, answer.PieceCount, source.Registry)
            {
                Tokens = new TaskTokens(answer.Token, answer.TokenExpiresInMs, _time),
            };
            _sessions[blob.Digest] = session;
            if (_checkedAccess.Count >= MaxCheckedAccess)
            {
                _checkedAccess.Clear();
            }

            _checkedAccess[(blob.Digest, source.CredentialKey)] = 0;
            return session;
        }

        throw new NoSchedulerException($"none of {order.Count} schedulers answered");
    }

    /// <summary>
    /// Calls the session's scheduler. A scheduler that does not answer, or that no longer knows the task or the peer
    /// (it restarted, or forgot us), invalidates the session: the caller registers again (next on the ring if dead).
    /// </summary>
    public async Task<T> CallSchedulerAsync<T>(TaskSession session, Func<TaskSession, Task<T?>> call) where T : class
    {
        try
        {
            return (await call(session).ConfigureAwait(false))!;
        }
        catch (SchedulerUnavailableException ex)
        {
            PeerLog.SchedulerUnavailable(_logger, session.Scheduler, ex.Message);
            _sessions.TryRemove(new KeyValuePair<Digest, TaskSession>(session.Task, session));
            throw new SessionChangedException(session.Scheduler);
        }
        catch (SchedulerRejectedException ex) when (ex.Status is HttpStatusCode.NotFound or HttpStatusCode.Unauthorized)
        {
            // 401: the scheduler no longer takes this peer's secret (it forgot the peer and another instance claimed the
            // id meanwhile): registering again either gets a new secret or falls back to the registry.
            _sessions.TryRemove(new KeyValuePair<Digest, TaskSession>(session.Task, session));
            throw new SessionChangedException(null);
        }
    }

    /// <summary>Takes the renewed task tokens a scheduler sent with a heartbeat answer, for the tasks it schedules for this peer.</summary>
    public void RenewTokens(Uri scheduler, IReadOnlyList<TaskToken> tokens)
    {
        foreach (var token in tokens)
        {
            if (Digest.TryParse(token.TaskId, out var task) && _sessions.TryGetValue(task, out var session) && session.Scheduler == scheduler)
            {
                session.Tokens.Add(token.Token, token.ExpiresInMs);
            }
        }
    }

    /// <summary>Tells <paramref name="scheduler"/> the peer is leaving (a courtesy: failures are ignored).</summary>
    public async Task LeaveAsync(Uri scheduler, CancellationToken cancellationToken)
    {
        try
        {
            await _schedulers.PostAsync<LeaveRequest, SchedulerClient.NoContent>(scheduler, P2PProtocol.LeavePath, new LeaveRequest { PeerId = _self().PeerId }, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is SchedulerUnavailableException or SchedulerRejectedException or OperationCanceledException)
        {
            // Leaving is a courtesy: a scheduler that missed it forgets the peer after its TTL.
        }
    }

    /// <summary>Keeps the secret a scheduler issued at first contact (it replaces any earlier one from that scheduler).</summary>
    public void TakeSecret(Uri scheduler, string? secret)
    {
        if (secret is not null)
        {
            _peerSecrets[scheduler] = secret;
        }
    }

    /// <summary>Takes <paramref name="scheduler"/> back in use (it answered).</summary>
    public void MarkAlive(Uri scheduler)
    {
        _deadSchedulers.TryRemove(scheduler, out _);
        LastContact = _time.GetUtcNow();
    }

    /// <summary>When a scheduler last answered; <see langword="null"/> before the first answer.</summary>
    public DateTimeOffset? LastContact { get; private set; }

    /// <summary>Leaves <paramref name="scheduler"/> alone for <see cref="P2PPeerOptions.SchedulerRetryAfter"/>.</summary>
    public void MarkDead(Uri scheduler)
        => _deadSchedulers[scheduler] = _time.GetTimestamp() + (long)(_options.SchedulerRetryAfter.TotalSeconds * _time.TimestampFrequency);

    /// <summary>Whether <paramref name="scheduler"/> is being left alone.</summary>
    public bool IsDead(Uri scheduler)
        => _deadSchedulers.TryGetValue(scheduler, out long until) && until > _time.GetTimestamp();
}

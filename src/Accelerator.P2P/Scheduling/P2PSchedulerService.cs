using System.Buffers;
using System.Net;
using Accelerator.Oci.Registry;
using Accelerator.Oci.Resolution;
using Accelerator.P2P.Protocol;
using Accelerator.Hosting.Metrics;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Accelerator.P2P.Scheduling;

/// <summary>
/// The scheduler API over HTTP (docs/formats/p2p.md) around a <see cref="P2PScheduler"/>: bounded JSON bodies, access
/// checks at the registry before a task token is issued, preheat (image → manifest → blobs → seed peers), Prometheus
/// text on <c>/metrics</c>. Host it with <see cref="P2PSchedulerServer"/>, or map it into any ASP.NET Core app with
/// <see cref="P2PSchedulerEndpoints.MapP2PScheduler"/>.
/// </summary>
public sealed partial class P2PSchedulerService : IDisposable
{
    private readonly P2PSchedulerServerOptions _options;
    private readonly RegistryAccessChecker _access;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly System.Diagnostics.Metrics.Meter _meter;
    private long _accessDenied;
    private long _accessChecks;
    private long _badRequests;
    private long _untrusted;
    private long _operatorDenied;
    private readonly byte[]? _operatorToken;

    /// <summary>Creates the service around <paramref name="scheduler"/>.</summary>
    public P2PSchedulerService(P2PScheduler scheduler, P2PSchedulerServerOptions options, ILoggerFactory? loggerFactory = null, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(scheduler);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        Scheduler = scheduler;
        _options = options;
        _time = time ?? TimeProvider.System;
        _access = new RegistryAccessChecker(options.Registry, options.AccessCacheDuration, _time);
        _operatorToken = options.OperatorToken is { } token ? System.Text.Encoding.UTF8.GetBytes(token) : null;
        _logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger<P2PSchedulerService>();
        _meter = P2PMeter.Create(new("scheduler", options.Listen.ToString()),
        [
            ("accelerator.p2p.scheduler.pieces_from_parents", "{piece}", "Pieces assigned to parents.", () => scheduler.GetStatistics().PiecesFromParents),
            ("accelerator.p2p.scheduler.pieces_from_origin", "{piece}", "Pieces assigned back-to-source.", () => scheduler.GetStatistics().PiecesFromOrigin),
            ("accelerator.p2p.scheduler.parents_banned", "{peer}", "Parents banned for a task.", () => scheduler.GetStatistics().ParentsBanned),
            ("accelerator.p2p.scheduler.peers_forgotten", "{peer}", "Peers forgotten after they stopped reporting.", () => scheduler.GetStatistics().PeersForgotten),
            ("accelerator.p2p.scheduler.access_denied", "{request}", "Registrations refused by the registry's answer.", () => Interlocked.Read(ref _accessDenied)),
            ("accelerator.p2p.scheduler.untrusted_registry", "{request}", "Registrations and preheats naming an untrusted registry.", () => Interlocked.Read(ref _untrusted)),
            ("accelerator.p2p.scheduler.peer_auth_failures", "{request}", "Requests naming a known peer without its secret.", () => scheduler.GetStatistics().PeerAuthFailures),
            ("accelerator.p2p.scheduler.limit_refusals", "{request}", "Requests refused at a limit (peers, tasks, blob size, registration rate).",
                () => { var s = scheduler.GetStatistics(); return s.PeersRefused + s.TasksRefused + s.BlobsTooLarge + s.RegistrationsThrottled; }),
        ]);
    }

    /// <summary>The decision logic.</summary>
    public P2PScheduler Scheduler { get; }

    /// <summary>Handles one request of the scheduler API; anything else gets 404.</summary>
    public async Task HandleAsync(HttpContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var request = context.Request;
        string path = request.Path.Value ?? "/";
        try
        {
            if (HttpMethods.IsGet(request.Method) || HttpMethods.IsHead(request.Method))
            {
                await HandleGetAsync(context, path).ConfigureAwait(false);
                return;
            }

            if (!HttpMethods.IsPost(request.Method))
            {
                context.Response.Headers.Allow = "GET, POST";
                await ErrorAsync(context, StatusCodes.Status405MethodNotAllowed, "method not allowed").ConfigureAwait(false);
                return;
            }

            await HandlePostAsync(context, path).ConfigureAwait(false);
        }
        catch (P2PProtocolException ex)
        {
            Interlocked.Increment(ref _badRequests);
            await ErrorAsync(context, StatusCodes.Status400BadRequest, ex.Message).ConfigureAwait(false);
        }
        catch (KeyNotFoundException ex)
        {
            await ErrorAsync(context, StatusCodes.Status404NotFound, ex.Message).ConfigureAwait(false);
        }
        catch (PeerAuthenticationException ex)
        {
            await ErrorAsync(context, StatusCodes.Status401Unauthorized, ex.Message).ConfigureAwait(false);
        }
        catch (P2PLimitException ex)
        {
            Log.LimitReached(_logger, ex.Message);
            await ErrorAsync(context, ex.Status, ex.Message).ConfigureAwait(false);
        }
        catch (BlobNotFoundException)
        {
            await ErrorAsync(context, StatusCodes.Status404NotFound, "the registry does not hold what was asked for").ConfigureAwait(false);
        }
        catch (PlatformNotFoundException ex)
        {
            // Our own words about the image's platforms, not the registry's.
            await ErrorAsync(context, StatusCodes.Status404NotFound, ex.Message).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is RegistryException or FormatException or DigestMismatchException or ContentTooLargeException or HttpRequestException)
        {
            // The registry's own words (status, body, sizes) stay in the log: callers are not trusted with them.
            Log.RegistryFailed(_logger, ex.Message);
            await ErrorAsync(context, StatusCodes.Status502BadGateway, "the registry could not be asked (see the scheduler's log)").ConfigureAwait(false);
        }
    }

    /// <summary>The Prometheus text of the scheduler's metrics.</summary>
    public string FormatMetrics()
    {
        var s = Scheduler.GetStatistics();
        return new PrometheusText()
            .Gauge("accel_p2p_scheduler_peers", "Peers known now.", s.Peers)
            .Gauge("accel_p2p_scheduler_tasks", "Tasks known now.", s.Tasks)
            .Counter("accel_p2p_scheduler_heartbeats_total", "Heartbeats received.", s.Heartbeats)
            .Counter("accel_p2p_scheduler_tasks_created_total", "Tasks created.", s.TasksCreated)
            .Counter("accel_p2p_scheduler_tokens_issued_total", "Task tokens issued after an access check.", s.TokensIssued)
            .Counter("accel_p2p_scheduler_tokens_renewed_total", "Task tokens handed out again before the old one expired.", s.TokensRenewed)
            .Counter("accel_p2p_scheduler_pieces_evicted_total", "Pieces peers announced as gone from their stores.", s.PiecesEvicted)
            .Counter("accel_p2p_scheduler_access_checks_total", "Access checks (cached or at the registry).", Interlocked.Read(ref _accessChecks))
            .Counter("accel_p2p_scheduler_access_denied_total", "Registrations refused by the registry's answer.", Interlocked.Read(ref _accessDenied))
            .Counter("accel_p2p_scheduler_pieces_from_parents_total", "Pieces assigned to parents.", s.PiecesFromParents)
            .Counter("accel_p2p_scheduler_pieces_from_origin_total", "Pieces assigned back-to-source.", s.PiecesFromOrigin)
            .Counter("accel_p2p_scheduler_piece_successes_total", "Pieces reported stored.", s.PieceSuccesses)
            .Counter("accel_p2p_scheduler_piece_failures_total", "Piece fetches reported failed.", s.PieceFailures)
            .Counter("accel_p2p_scheduler_corrupt_pieces_total", "Pieces reported corrupt.", s.CorruptPieces)
            .Counter("accel_p2p_scheduler_parents_banned_total", "Parents banned for a task.", s.ParentsBanned)
            .Counter("accel_p2p_scheduler_peers_forgotten_total", "Peers forgotten after they stopped reporting.", s.PeersForgotten)
            .Counter("accel_p2p_scheduler_tasks_completed_total", "Tasks reported complete and verified.", s.TasksCompleted)
            .Counter("accel_p2p_scheduler_tasks_reset_total", "Tasks reset after a blob digest mismatch.", s.TasksReset)
            .Counter("accel_p2p_scheduler_preheat_blobs_total", "Blobs queued for preheating.", s.PreheatBlobs)
            .Counter("accel_p2p_scheduler_bad_requests_total", "Requests refused as malformed.", Interlocked.Read(ref _badRequests))
            .Counter("accel_p2p_scheduler_untrusted_registry_total", "Registrations and preheats refused for naming a registry the scheduler does not trust.", Interlocked.Read(ref _untrusted))
            .Counter("accel_p2p_scheduler_operator_denied_total", "Preheats and seed claims refused without the operator token.", Interlocked.Read(ref _operatorDenied))
            .Counter("accel_p2p_scheduler_peer_auth_failures_total", "Requests naming a known peer without its secret.", s.PeerAuthFailures)
            .Counter("accel_p2p_scheduler_reports_ignored_total", "Piece outcomes naming a parent the reporter was not sent to.", s.ReportsIgnored)
            .Counter("accel_p2p_scheduler_peers_refused_total", "First contacts refused at the peer limit.", s.PeersRefused)
            .Counter("accel_p2p_scheduler_tasks_refused_total", "Registrations refused at the task limit.", s.TasksRefused)
            .Counter("accel_p2p_scheduler_blobs_too_large_total", "Registrations refused for a blob over the size limit.", s.BlobsTooLarge)
            .Counter("accel_p2p_scheduler_registrations_throttled_total", "Registrations refused over the per-peer rate.", s.RegistrationsThrottled)
            .Counter("accel_p2p_scheduler_long_polls_total", "Schedule requests that asked to wait for a change (long poll).", Interlocked.Read(ref _longPolls))
            .ToString();
    }

    /// <summary>
    /// Resolves <see cref="PreheatRequest.Image"/> to its config and layer blobs (reading with the request's credential)
    /// and queues them for every live seed peer.
    /// </summary>
    /// <remarks>The caller has checked the operator credential (<see cref="HandleAsync"/> does).</remarks>
    /// <exception cref="UnauthorizedAccessException">The image's registry is not one of <see cref="P2PSchedulerServerOptions.TrustedRegistries"/>.</exception>
    public async Task<PreheatResponse> PreheatAsync(PreheatRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        var image = ImageReference.Parse(request.Image);
        if (!_options.Trusts(image.Registry))
        {
            Interlocked.Increment(ref _untrusted);
            throw new UnauthorizedAccessException(Untrusted(image.Registry));
        }

        var (client, owned) = _access.GetClient(image.Registry, request.Credential);
        try
        {
            var platform = request.Platform is null ? null : Platform.Parse(request.Platform);
            var resolved = await ImageResolver.ResolveAsync(client.GetStore(image.Registry), image, platform, cancellationToken).ConfigureAwait(false);
            var blobs = new List<BlobRef>();
            foreach (var descriptor in resolved.ImageManifest.Layers.Prepend(resolved.ImageManifest.Config))
            {
                blobs.Add(new BlobRef { Registry = image.Registry, Repository = image.Repository, Digest = descriptor.Digest.Value, Size = descriptor.Size });
            }

            int seeds = Scheduler.EnqueuePreheat(blobs);
            Log.Preheat(_logger, image.ToString(), blobs.Count, seeds);
            return new PreheatResponse { Blobs = blobs, SeedPeers = seeds };
        }
        finally
        {
            if (owned)
            {
                client.Dispose();
            }
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _access.Dispose();
        _meter.Dispose();
    }

    private async Task HandleGetAsync(HttpContext context, string path)
    {
        switch (path)
        {
            case "/healthz":
                context.Response.ContentType = "text/plain";
                await context.Response.WriteAsync("ok\n", context.RequestAborted).ConfigureAwait(false);
                break;
            case "/metrics":
                context.Response.ContentType = PrometheusText.ContentType;
                await context.Response.WriteAsync(FormatMetrics(), context.RequestAborted).ConfigureAwait(false);
                break;
            default:
                await ErrorAsync(context, StatusCodes.Status404NotFound, "not found").ConfigureAwait(false);
                break;
        }
    }

    private async Task HandlePostAsync(HttpContext context, string path)
    {
        byte[]? body = await ReadBodyAsync(context).ConfigureAwait(false);
        if (body is null)
        {
            return;
        }

        var ct = context.RequestAborted;
        string? secret = context.Request.Headers[P2PProtocol.PeerSecretHeader].FirstOrDefault();
        switch (path)
        {
            case P2PProtocol.HeartbeatPath:
                var heartbeat = P2PProtocol.Parse<HeartbeatRequest>(body);
                if (!await MaySeedAsync(context, heartbeat.Peer).ConfigureAwait(false))
                {
                    return;
                }

                string? issued = Scheduler.AuthenticatePeer(heartbeat.Peer, secret);
                var beat = Scheduler.Heartbeat(heartbeat);
                beat.PeerSecret = issued;
                await WriteAsync(context, beat).ConfigureAwait(false);
                return;
            case P2PProtocol.LeavePath:
                var leave = P2PProtocol.Parse<LeaveRequest>(body);
                if (Scheduler.KnowsPeer(leave.PeerId))
                {
                    Scheduler.AuthenticatePeer(leave.PeerId, secret);
                    Scheduler.Leave(leave.PeerId);
                    AllTasksChanged();
                }

                context.Response.StatusCode = StatusCodes.Status204NoContent;
                return;
            case P2PProtocol.RegisterPath:
                await RegisterAsync(context, P2PProtocol.Parse<RegisterTaskRequest>(body), secret).ConfigureAwait(false);
                return;
            case P2PProtocol.PreheatPath:
                var preheat = P2PProtocol.Parse<PreheatRequest>(body);
                if (!IsOperator(context))
                {
                    Interlocked.Increment(ref _operatorDenied);
                    await ErrorAsync(context, StatusCodes.Status401Unauthorized, _options.OperatorToken is null
                        ? "preheat is off: the scheduler has no operator token"
                        : "preheat needs the operator token (Authorization: Bearer)").ConfigureAwait(false);
                    return;
                }

                try
                {
                    await WriteAsync(context, await PreheatAsync(preheat, ct).ConfigureAwait(false)).ConfigureAwait(false);
                }
                catch (UnauthorizedAccessException ex)
                {
                    await ErrorAsync(context, StatusCodes.Status403Forbidden, ex.Message).ConfigureAwait(false);
                }

                return;
        }

        if (!P2PProtocol.TryParseTaskPath(path, out var task, out string? action))
        {
            await ErrorAsync(context, StatusCodes.Status404NotFound, "not found").ConfigureAwait(false);
            return;
        }

        switch (action)
        {
            case "schedule":
                var schedule = P2PProtocol.Parse<ScheduleRequest>(body);
                Scheduler.AuthenticatePeer(schedule.PeerId, secret);
                ScheduleResponse answer;
                try
                {
                    answer = await ScheduleAsync(task, schedule, ct).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (ct.IsCancellationRequested)
                {
                    return; // the peer gave up waiting
                }

                await WriteAsync(context, answer).ConfigureAwait(false);
                break;
            case "reports":
                var report = P2PProtocol.Parse<PieceReportRequest>(body);
                Scheduler.AuthenticatePeer(report.PeerId, secret);
                Scheduler.Report(task, report);
                TaskChanged(task);
                context.Response.StatusCode = StatusCodes.Status204NoContent;
                break;
            default:
                var complete = P2PProtocol.Parse<TaskCompleteRequest>(body);
                Scheduler.AuthenticatePeer(complete.PeerId, secret);
                Scheduler.Complete(task, complete);
                TaskChanged(task);
                context.Response.StatusCode = StatusCodes.Status204NoContent;
                break;
        }
    }

    private async Task RegisterAsync(HttpContext context, RegisterTaskRequest request, string? secret)
    {
        // Checked before anything reaches the registry: only registries the operator trusts are asked, and only for peers
        // that are who they say they are.
        if (!_options.Trusts(request.Blob.Registry))
        {
            Interlocked.Increment(ref _untrusted);
            await ErrorAsync(context, StatusCodes.Status403Forbidden, Untrusted(request.Blob.Registry)).ConfigureAwait(false);
            return;
        }

        if (!await MaySeedAsync(context, request.Peer).ConfigureAwait(false))
        {
            return;
        }

        string? issued = Scheduler.AuthenticatePeer(request.Peer, secret);
        Interlocked.Increment(ref _accessChecks);
        var access = await _access.CheckAsync(request.Blob, request.Credential, context.RequestAborted).ConfigureAwait(false);
        if (!access.Allowed)
        {
            Interlocked.Increment(ref _accessDenied);
            Log.AccessDenied(_logger, request.Peer.PeerId, request.Blob.Digest, (int)access.Status);
            await ErrorAsync(context, access.Status == HttpStatusCode.NotFound ? StatusCodes.Status404NotFound : StatusCodes.Status403Forbidden, access.Error!).ConfigureAwait(false);
            return;
        }

        if (request.Blob.Size >= 0 && request.Blob.Size != access.Size)
        {
            // Not echoing the registry's size: it is an answer to this credential, not something to hand out.
            throw new P2PProtocolException($"Blob {request.Blob.Digest} does not have the size the request states.");
        }

        var answer = Scheduler.RegisterTask(request, access.Size);
        answer.PeerSecret = issued;
        await WriteAsync(context, answer).ConfigureAwait(false);
    }

    private static string Untrusted(string registry)
        => $"this scheduler does not vouch for registry '{(registry.Length > 256 ? registry[..256] : registry)}' (trust it with --trust-registry)";

    /// <summary>Whether the request carries the operator token (<c>Authorization: Bearer TOKEN</c>), compared in constant time.</summary>
    private bool IsOperator(HttpContext context)
    {
        if (_operatorToken is null)
        {
            return false;
        }

        string header = context.Request.Headers.Authorization.FirstOrDefault() ?? "";
        const string Bearer = "Bearer ";
        byte[] presented = header.StartsWith(Bearer, StringComparison.OrdinalIgnoreCase) && header.Length - Bearer.Length <= 1024
            ? System.Text.Encoding.UTF8.GetBytes(header[Bearer.Length..].Trim())
            : [];
        return System.Security.Cryptography.CryptographicOperations.FixedTimeEquals(presented, _operatorToken);
    }

    /// <summary>A peer announcing itself as a seed must carry the operator token; otherwise the refusal is written.</summary>
    private async Task<bool> MaySeedAsync(HttpContext context, PeerInfo peer)
    {
        if (!peer.Seed || IsOperator(context))
        {
            return true;
        }

        Interlocked.Increment(ref _operatorDenied);
        await ErrorAsync(context, StatusCodes.Status403Forbidden, "seed status needs the operator token (Authorization: Bearer)").ConfigureAwait(false);
        return false;
    }

    private static async Task<byte[]?> ReadBodyAsync(HttpContext context)
    {
        var request = context.Request;
        if (request.ContentLength > P2PProtocol.MaxRequestBytes)
        {
            await ErrorAsync(context, StatusCodes.Status413PayloadTooLarge, $"body over {P2PProtocol.MaxRequestBytes} bytes").ConfigureAwait(false);
            return null;
        }

        byte[] buffer = ArrayPool<byte>.Shared.Rent(P2PProtocol.MaxRequestBytes + 1);
        try
        {
            int total = 0;
            while (total <= P2PProtocol.MaxRequestBytes)
            {
                int n = await request.Body.ReadAsync(buffer.AsMemory(total, P2PProtocol.MaxRequestBytes + 1 - total), context.RequestAborted).ConfigureAwait(false);
                if (n == 0)
                {
                    return buffer.AsSpan(0, total).ToArray();
                }

                total += n;
            }

            await ErrorAsync(context, StatusCodes.Status413PayloadTooLarge, $"body over {P2PProtocol.MaxRequestBytes} bytes").ConfigureAwait(false);
            return null;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private static Task WriteAsync<T>(HttpContext context, T message) where T : class
    {
        byte[] json = P2PProtocol.Serialize(message);
        context.Response.ContentType = "application/json";
        context.Response.ContentLength = json.Length;
        return context.Response.Body.WriteAsync(json, context.RequestAborted).AsTask();
    }

    private static Task ErrorAsync(HttpContext context, int status, string error)
    {
        if (context.Response.HasStarted)
        {
            return Task.CompletedTask;
        }

        context.Response.StatusCode = status;
        return WriteAsync(context, new ErrorResponse { Error = error.Length > 1024 ? error[..1024] : error });
    }
}

/// <summary>Maps the scheduler API into an ASP.NET Core application.</summary>
public static class P2PSchedulerEndpoints
{
    /// <summary>
    /// Maps the scheduler API (<c>/api/v1/…</c>), <c>/metrics</c> and <c>/healthz</c> to <paramref name="service"/>.
    /// </summary>
    public static IEndpointRouteBuilder MapP2PScheduler(this IEndpointRouteBuilder endpoints, P2PSchedulerService service)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        ArgumentNullException.ThrowIfNull(service);
        endpoints.Map("/api/v1/{**rest}", service.HandleAsync);
        endpoints.Map("/metrics", service.HandleAsync);
        endpoints.Map("/healthz", service.HandleAsync);
        return endpoints;
    }
}

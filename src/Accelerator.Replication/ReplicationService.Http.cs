using System.Buffers;
using System.Globalization;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using Accelerator.Hosting.Metrics;
using Microsoft.AspNetCore.Http;

namespace Accelerator.Replication;

public sealed partial class ReplicationService
{
    private async Task HandleAsync(HttpContext context)
    {
        var request = context.Request;
        string path = request.Path.Value ?? "/";
        if (path == _options.EventsPath)
        {
            if (!HttpMethods.IsPost(request.Method))
            {
                context.Response.Headers.Allow = "POST";
                await RespondAsync(context, StatusCodes.Status405MethodNotAllowed, "POST notifications here.\n").ConfigureAwait(false);
                return;
            }

            await HandleNotificationAsync(context).ConfigureAwait(false);
        }
        else if (path == "/healthz" && (HttpMethods.IsGet(request.Method) || HttpMethods.IsHead(request.Method)))
        {
            bool healthy = !_worker.IsCompleted;
            await RespondAsync(context, healthy ? StatusCodes.Status200OK : StatusCodes.Status503ServiceUnavailable, healthy ? "ok\n" : "replication worker stopped\n").ConfigureAwait(false);
        }
        else if (path == "/metrics" && HttpMethods.IsGet(request.Method))
        {
            await FormatMetrics(GetMetrics()).WriteToAsync(context.Response, context.RequestAborted).ConfigureAwait(false);
        }
        else
        {
            await RespondAsync(context, StatusCodes.Status404NotFound, "not found\n").ConfigureAwait(false);
        }
    }

    private async Task HandleNotificationAsync(HttpContext context)
    {
        if (!IsAuthorized(context.Request))
        {
            context.Response.Headers.WWWAuthenticate = "Bearer realm=\"accel-replicate\"";
            await RejectAsync(context, StatusCodes.Status401Unauthorized, "a valid bearer token is required").ConfigureAwait(false);
            return;
        }

        string? mediaType = MediaTypeHeaderValue.TryParse(context.Request.ContentType, out var contentType) ? contentType.MediaType : null;
        if (!RegistryNotifications.IsEnvelopeMediaType(mediaType))
        {
            await RejectAsync(context, StatusCodes.Status415UnsupportedMediaType, $"expected {RegistryNotifications.EnvelopeMediaTypeV1}").ConfigureAwait(false);
            return;
        }

        byte[]? body = await ReadBodyAsync(context).ConfigureAwait(false);
        if (body is null)
        {
            await RejectAsync(context, StatusCodes.Status413PayloadTooLarge, $"the notification is larger than {_options.MaxRequestBodyBytes} bytes").ConfigureAwait(false);
            return;
        }

        IReadOnlyList<RegistryEvent> events;
        bool full = false;
        try
        {
            events = RegistryNotifications.Parse(body);
        }
        catch (FormatException ex)
        {
            await RejectAsync(context, StatusCodes.Status400BadRequest, ex.Message).ConfigureAwait(false);
            return;
        }

        // Decide for every event before queueing any, so that a refused notification queues nothing.
        var accepted = new List<(string Source, RegistryEvent Event)>();
        foreach (var e in events)
        {
            if (!e.IsTaggedManifestPush || !_options.Filter.Includes(e.Target.Repository!, e.Target.Tag!))
            {
                continue;
            }

            if (SourceOf(e) is not { } source)
            {
                // Only configured registries are read from: a forged event naming another host is refused, loudly.
                LogForeignSource(Printable(e.RequestHost), e.Target.Repository!, e.Target.Tag!, Printable(context.Connection.RemoteIpAddress?.ToString()));
                await RejectAsync(context, StatusCodes.Status403Forbidden, "the event names a registry this service does not replicate from").ConfigureAwait(false);
                return;
            }

            accepted.Add((source, e));
        }

        try
        {
            lock (_admission)
            {
                // Tags already queued are merged; only new ones take room.
                int adding = accepted.Select(a => ReplicationQueue.KeyOf(a.Source, a.Event.Target.Repository!, a.Event.Target.Tag!)).Distinct(StringComparer.Ordinal).Count(k => !_queue.Contains(k));
                if (adding > 0 && _queue.Count + adding > _options.MaxQueueLength)
                {
                    full = true;
                }
                else
                {
                    foreach (var (source, e) in accepted)
                    {
                        var item = _queue.Enqueue(source, e.Target.Repository!, e.Target.Tag!, e.Target.Digest);
                        Interlocked.Increment(ref _queued);
                        LogQueued(source, e.Target.Repository!, e.Target.Tag!, e.Target.Digest?.ToString() ?? "?", item.Sequence);
                    }
                }
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // Not acknowledged: the registry sends the notification again.
            LogQueueWriteFailed(ex.Message);
            await RespondAsync(context, StatusCodes.Status500InternalServerError, "the event could not be stored\n").ConfigureAwait(false);
            return;
        }

        if (full)
        {
            // Not acknowledged: the registry sends the notification again once the queue has drained.
            context.Response.Headers.RetryAfter = "30";
            await RejectAsync(context, StatusCodes.Status503ServiceUnavailable, $"the replication queue is full ({_options.MaxQueueLength} tags); try again later").ConfigureAwait(false);
            return;
        }

        Interlocked.Add(ref _received, events.Count);
        Interlocked.Add(ref _ignored, events.Count - accepted.Count);
        if (accepted.Count > 0)
        {
            Wake();
        }

        await RespondAsync(context, StatusCodes.Status200OK, $"{{\"queued\":{accepted.Count}}}\n", "application/json").ConfigureAwait(false);
    }

    /// <summary>
    /// The registry to read an event's push from: the configured source, or the configured registry the event's
    /// <c>request.host</c> names; null when it names none of them.
    /// </summary>
    private string? SourceOf(RegistryEvent e)
    {
        if (_options.SourceRegistry is { } source)
        {
            return source;
        }

        return e.RequestHost is { } host ? _options.SourceRegistries.FirstOrDefault(r => r.Equals(host, StringComparison.OrdinalIgnoreCase)) : null;
    }

    // Text from a request, safe for one log line.
    private static string Printable(string? text)
        => text is null ? "(none)" : new string(text.Take(200).Select(c => char.IsControl(c) ? '?' : c).ToArray());

    private bool IsAuthorized(HttpRequest request)
    {
        if (_options.BearerToken is not { } token)
        {
            return true;
        }

        string header = request.Headers.Authorization.ToString();
        const string scheme = "Bearer ";
        if (!header.StartsWith(scheme, StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }

        byte[] expected = Encoding.UTF8.GetBytes(token);
        byte[] given = Encoding.UTF8.GetBytes(header[scheme.Length..].Trim());
        return CryptographicOperations.FixedTimeEquals(expected, given);
    }

    /// <summary>Reads the body, or returns null when it is over the limit (declared or actual).</summary>
    private async Task<byte[]?> ReadBodyAsync(HttpContext context)
    {
        long limit = _options.MaxRequestBodyBytes;
        if (context.Request.ContentLength > limit)
        {
            return null;
        }

        byte[] buffer = ArrayPool<byte>.Shared.Rent((int)Math.Min(limit + 1, context.Request.ContentLength + 1 ?? 16 * 1024));
        int filled = 0;
        try
        {
            while (true)
            {
                if (filled == buffer.Length)
                {
                    if (filled > limit)
                    {
                        return null;
                    }

                    byte[] larger = ArrayPool<byte>.Shared.Rent((int)Math.Min(limit + 1, (long)buffer.Length * 2));
                    buffer.AsSpan(0, filled).CopyTo(larger);
                    ArrayPool<byte>.Shared.Return(buffer);
                    buffer = larger;
                }

                int n = await context.Request.Body.ReadAsync(buffer.AsMemory(filled), context.RequestAborted).ConfigureAwait(false);
                if (n == 0)
                {
                    break;
                }

                filled += n;
                if (filled > limit)
                {
                    return null;
                }
            }

            return buffer.AsSpan(0, filled).ToArray();
        }
        catch (BadHttpRequestException ex) when (ex.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            return null;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private async Task RejectAsync(HttpContext context, int status, string reason)
    {
        Interlocked.Increment(ref _rejected);
        LogRejected(status, reason);
        await RespondAsync(context, status, reason.ReplaceLineEndings(" ") + "\n").ConfigureAwait(false);
    }

    private static async Task RespondAsync(HttpContext context, int status, string text, string contentType = "text/plain; charset=utf-8")
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = contentType;
        await context.Response.WriteAsync(text, context.RequestAborted).ConfigureAwait(false);
    }

    /// <summary>The service's metrics as Prometheus text.</summary>
    internal static PrometheusText FormatMetrics(ReplicationServiceMetrics metrics) => new PrometheusText()
        .Counter("accel_replication_events_received_total", "Events received in accepted registry notifications.", metrics.EventsReceived)
        .Counter("accel_replication_events_queued_total", "Tagged manifest pushes written to the durable queue.", metrics.EventsQueued)
        .Counter("accel_replication_events_ignored_total", "Events acknowledged without replication (pulls, blobs, deletes, out of scope).", metrics.EventsIgnored)
        .Counter("accel_replication_notifications_rejected_total", "Notifications refused (401, 403, 400, 413, 415, 503).", metrics.NotificationsRejected)
        .Counter("accel_replication_replicated_total", "Queued tags replicated to every target.", metrics.Replicated)
        .Counter("accel_replication_failures_total", "Replication attempts that failed and were scheduled again.", metrics.Failures)
        .Gauge("accel_replication_queue_length", "Tags waiting or being replicated.", metrics.QueueLength);
}

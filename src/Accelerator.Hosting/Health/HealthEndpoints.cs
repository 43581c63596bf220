using System.Text;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Accelerator.Hosting.Health;

/// <summary>
/// Serves a daemon's health checks on its own listener: <c>GET</c>/<c>HEAD</c> <see cref="LivenessPath"/> runs the
/// daemon's checks tagged <see cref="LivenessTag"/>, <see cref="ReadinessPath"/> those tagged
/// <see cref="ReadinessTag"/>; every other request goes to the daemon. A daemon's checks carry its name as a tag too, so
/// daemons composed in one host each answer for themselves.
/// </summary>
/// <remarks>
/// The answer is <c>200 ok</c> (text) when no selected check is <see cref="HealthStatus.Unhealthy"/> (degraded included,
/// with its reason), <c>503</c> with one line per failing check otherwise: the same body a daemon's built-in
/// <c>/healthz</c> gives, so probes written against it keep working.
/// </remarks>
public sealed class HealthEndpoints
{
    /// <summary>The liveness path: the daemon runs (restart it when this fails).</summary>
    public const string LivenessPath = "/healthz";

    /// <summary>The readiness path: the daemon can do its job now (send it work when this succeeds).</summary>
    public const string ReadinessPath = "/readyz";

    /// <summary>The tag of liveness checks.</summary>
    public const string LivenessTag = "live";

    /// <summary>The tag of readiness checks.</summary>
    public const string ReadinessTag = "ready";

    private readonly HealthCheckService _health;
    private readonly string _daemon;

    /// <summary>Serves the checks of <paramref name="daemon"/> (a tag its checks carry) from <paramref name="health"/>.</summary>
    public HealthEndpoints(HealthCheckService health, string daemon)
    {
        ArgumentNullException.ThrowIfNull(health);
        ArgumentException.ThrowIfNullOrEmpty(daemon);
        _health = health;
        _daemon = daemon;
    }

    /// <summary>The tags a liveness check of <paramref name="daemon"/> is registered with.</summary>
    public static string[] LivenessTags(string daemon) => [LivenessTag, daemon];

    /// <summary>The tags a readiness check of <paramref name="daemon"/> is registered with.</summary>
    public static string[] ReadinessTags(string daemon) => [ReadinessTag, daemon];

    /// <summary>The tags of a check that answers both liveness and readiness for <paramref name="daemon"/>.</summary>
    public static string[] LivenessAndReadinessTags(string daemon) => [LivenessTag, ReadinessTag, daemon];

    /// <summary>A request delegate that answers the health paths and passes everything else to <paramref name="next"/>.</summary>
    public RequestDelegate Wrap(RequestDelegate next)
    {
        ArgumentNullException.ThrowIfNull(next);
        return context =>
        {
            var request = context.Request;
            if (!HttpMethods.IsGet(request.Method) && !HttpMethods.IsHead(request.Method))
            {
                return next(context);
            }

            string? tag = request.Path.Value switch
            {
                LivenessPath => LivenessTag,
                ReadinessPath => ReadinessTag,
                _ => null,
            };
            return tag is null ? next(context) : RespondAsync(context, tag);
        };
    }

    /// <summary>Runs the daemon's checks carrying <paramref name="tag"/>.</summary>
    public Task<HealthReport> CheckAsync(string tag, CancellationToken cancellationToken)
        => _health.CheckHealthAsync(check => check.Tags.Contains(tag) && check.Tags.Contains(_daemon), cancellationToken);

    private async Task RespondAsync(HttpContext context, string tag)
    {
        var report = await CheckAsync(tag, context.RequestAborted).ConfigureAwait(false);
        bool up = report.Status != HealthStatus.Unhealthy;
        var text = new StringBuilder(up ? "ok\n" : "");
        foreach (var (name, entry) in report.Entries)
        {
            if (entry.Status != HealthStatus.Healthy)
            {
                text.Append(name).Append(": ").Append(entry.Status == HealthStatus.Degraded ? "degraded" : "unhealthy");
                text.Append(entry.Description is { Length: > 0 } description ? $" ({description})" : "").Append('\n');
            }
        }

        context.Response.StatusCode = up ? StatusCodes.Status200OK : StatusCodes.Status503ServiceUnavailable;
        context.Response.ContentType = "text/plain; charset=utf-8";
        context.Response.Headers.CacheControl = "no-store";
        await context.Response.WriteAsync(text.ToString(), context.RequestAborted).ConfigureAwait(false);
    }
}

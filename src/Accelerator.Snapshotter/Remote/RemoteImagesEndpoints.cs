using Accelerator.Hosting.Metrics;
using Accelerator.Snapshotter.Hosting;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Accelerator.Snapshotter.Remote;

/// <summary>
/// The remote snapshots' endpoints on the daemon's socket: <c>GET /v1/images</c> (JSON, one
/// <see cref="RemoteImageStatus"/> per image: strategy, reason, skipped strategies, time to ready, bytes fetched,
/// snapshots) and <c>GET /metrics</c> (Prometheus text: decisions per strategy and reason).
/// </summary>
internal sealed class RemoteImagesEndpoints(RemoteLayerProvider provider) : ISnapshotterEndpoints
{
    /// <summary>The Prometheus metrics path.</summary>
    public const string MetricsPath = "/metrics";

    public void Map(IEndpointRouteBuilder endpoints)
    {
        endpoints.MapGet(RemoteImagesClient.Path, () => Results.Json(provider.GetStatus(), RemoteSnapshotsJsonContext.Default.IReadOnlyListRemoteImageStatus));
        endpoints.MapGet(MetricsPath, (HttpContext context) => new PrometheusText()
            .Counter(
                "accel_snapshotter_decisions_total",
                "Image decisions of the remote snapshots: the strategy that serves the image, or ordinary (containerd downloads it), and why.",
                provider.Metrics.Totals.OrderBy(t => t.Key.Strategy, StringComparer.Ordinal).ThenBy(t => t.Key.Reason, StringComparer.Ordinal)
                    .Select(t => ((IReadOnlyList<KeyValuePair<string, string>>)[new("strategy", t.Key.Strategy), new("reason", t.Key.Reason)], t.Value)))
            .Gauge("accel_snapshotter_remote_images", "Images served remotely (mounted or to be mounted again on first use).", provider.GetStatus().Count(s => s.Strategy != RemoteLayerProvider.Ordinary))
            .WriteToAsync(context.Response, context.RequestAborted));
    }
}

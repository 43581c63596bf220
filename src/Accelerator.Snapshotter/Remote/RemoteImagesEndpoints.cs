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
internal sealed class RemoteImagesEndpoints(RemoteLayerProvider provider, Store.StoreServedImages? store = null) : ISnapshotterEndpoints
{
    /// <summary>The Prometheus metrics path.</summary>
    public const string MetricsPath = "/metrics";

    public void Map(IEndpointRouteBuilder endpoints)
    {
        endpoints.MapGet(RemoteImagesClient.Path, () => Results.Json(Status(), RemoteSnapshotsJsonContext.Default.IReadOnlyListRemoteImageStatus));
        endpoints.MapGet(MetricsPath, (HttpContext context) => new PrometheusText()
            .Counter(
                "accel_snapshotter_decisions_total",
                "Image decisions of the remote snapshots: the strategy that serves the image, or ordinary (containerd downloads it), and why.",
                provider.Metrics.Totals.OrderBy(t => t.Key.Strategy, StringComparer.Ordinal).ThenBy(t => t.Key.Reason, StringComparer.Ordinal)
                    .Select(t => ((IReadOnlyList<KeyValuePair<string, string>>)[new("strategy", t.Key.Strategy), new("reason", t.Key.Reason)], t.Value)))
            .Gauge("accel_snapshotter_remote_images", "Images served remotely (mounted or to be mounted again on first use).", provider.GetStatus().Count(s => s.Strategy != RemoteLayerProvider.Ordinary))
            .WriteToAsync(context.Response, context.RequestAborted));
    }

    // The remote provider's decisions, then images served by the snapshot store's layers (which the remote provider
    // never saw, as the store is asked first).
    private IReadOnlyList<RemoteImageStatus> Status()
    {
        var remote = provider.GetStatus();
        if (store is null)
        {
            return remote;
        }

        var seen = remote.Select(s => (s.Image, s.Manifest)).ToHashSet();
        return [.. remote, .. store.GetStatus().Where(s => !seen.Contains((s.Image, s.Manifest)))];
    }
}

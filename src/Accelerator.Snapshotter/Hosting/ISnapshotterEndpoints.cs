using Microsoft.AspNetCore.Routing;

namespace Accelerator.Snapshotter.Hosting;

/// <summary>
/// More HTTP endpoints on the snapshotter's socket (beside the gRPC service, <c>/healthz</c> and <c>/readyz</c>), e.g. a
/// status page or metrics. Register implementations with <c>services.AddSingleton&lt;ISnapshotterEndpoints, …&gt;()</c>;
/// every one is mapped when the daemon starts. The socket is HTTP/2 only (h2c), root only.
/// </summary>
/// <remarks>
/// The endpoints run in the daemon's own small app, whose services are not the host's: a handler should use what its
/// implementation was constructed with (resolved from the host), not parameters bound from the app's services.
/// </remarks>
public interface ISnapshotterEndpoints
{
    /// <summary>Maps the endpoints on the daemon's app.</summary>
    void Map(IEndpointRouteBuilder endpoints);
}

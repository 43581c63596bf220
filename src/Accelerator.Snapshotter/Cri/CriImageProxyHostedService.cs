using Accelerator.Hosting.Health;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Accelerator.Snapshotter.Cri;

/// <summary>
/// The CRI image-service proxy as a hosted service (<c>services.AddCriImageProxy(...)</c>): starts a
/// <see cref="CriImageProxyServer"/> with the host and stops it with the host.
/// </summary>
public sealed class CriImageProxyHostedService : HostedDaemon<CriImageProxyServer>
{
    /// <summary>The tag of the proxy's health checks (and the name of its check).</summary>
    public const string HealthName = "cri-proxy";

    private readonly CriProxyOptions _options;
    private readonly CriCredentialStore _credentials;
    private readonly ILoggerFactory _loggerFactory;

    /// <summary>Creates the service; the host starts it.</summary>
    public CriImageProxyHostedService(IOptions<CriProxyOptions> options, CriCredentialStore credentials, HealthCheckService health, ILoggerFactory? loggerFactory = null)
        : base(health, HealthName)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(credentials);
        _options = options.Value;
        _credentials = credentials;
        _loggerFactory = loggerFactory ?? NullLoggerFactory.Instance;
    }

    /// <summary>The running proxy; <see langword="null"/> before the host started it and after it stopped.</summary>
    public CriImageProxyServer? Server => Daemon;

    /// <inheritdoc />
    protected override Task<CriImageProxyServer> StartDaemonAsync(HealthEndpoints health, CancellationToken cancellationToken)
        => CriImageProxyServer.StartAsync(_options, _credentials, _loggerFactory, health, cancellationToken);

    /// <summary>Live and ready while the proxy listens (containerd being down shows in the calls it forwards).</summary>
    internal sealed class HealthCheck(CriImageProxyHostedService service) : IHealthCheck
    {
        public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
            => Task.FromResult(service.Server is { } server
                ? HealthCheckResult.Healthy($"serving on {server.Address}")
                : HealthCheckResult.Unhealthy("not started"));
    }
}

using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using Microsoft.Extensions.DependencyInjection;

namespace Accelerator.Hosting;

/// <summary>
/// A bare Kestrel listener running one request delegate: what the replication service, the layout registry, the P2P
/// scheduler, peers and registry-mirror proxy serve on, over plain HTTP or TLS (<see cref="ListenerTlsOptions"/>, with
/// certificate reload and optional client certificates). Stopping gives requests in flight 5 seconds, then aborts them.
/// </summary>
public sealed class KestrelListener : IAsyncDisposable
{
    private readonly WebApplication _app;

    private KestrelListener(WebApplication app, Uri url)
    {
        _app = app;
        Url = url;
    }

    /// <summary>The bound base URL (with the real port when port 0 was asked for), ending in <c>/</c>.</summary>
    public Uri Url { get; }

    /// <summary>
    /// Starts listening on <paramref name="listen"/> (an IP address or <c>localhost</c>; port 0 for a free port): plain
    /// HTTP for an <c>http://</c> URL, TLS with <paramref name="tls"/> for an <c>https://</c> one.
    /// With <paramref name="health"/>, its paths (<c>/healthz</c>, <c>/readyz</c>) are answered from the host's health checks
    /// before <paramref name="handler"/> sees a request.
    /// </summary>
    /// <exception cref="ArgumentException">
    /// The host is neither an IP address nor <c>localhost</c>, the scheme and <paramref name="tls"/> disagree, or the
    /// certificate files cannot be loaded.
    /// </exception>
    public static async Task<KestrelListener> StartAsync(
        Uri listen, RequestDelegate handler, long maxRequestBodyBytes, CancellationToken cancellationToken, int maxRequestHeadersBytes = 32 * 1024, ListenerTlsOptions? tls = null, Health.HealthEndpoints? health = null)
    {
        ArgumentNullException.ThrowIfNull(listen);
        ArgumentNullException.ThrowIfNull(handler);
        if (health is not null)
        {
            handler = health.Wrap(handler);
        }

        if (ListenerTlsOptions.CheckScheme(listen, tls) is { } problem)
        {
            throw new ArgumentException($"Listen: {problem}.", nameof(listen));
        }

        Action<ListenOptions> secure = tls is null ? static _ => { } : Secure(tls);
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions());
        builder.Services.AddLogging();
        builder.WebHost.UseKestrelCore();
        if (tls is not null)
        {
            builder.WebHost.UseKestrelHttpsConfiguration();
        }

        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            string host = listen.IdnHost;
            if (host.Equals("localhost", StringComparison.OrdinalIgnoreCase))
            {
                kestrel.ListenLocalhost(listen.Port, secure);
            }
            else if (IPAddress.TryParse(host, out var address))
            {
                kestrel.Listen(address, listen.Port, secure);
            }
            else
            {
                throw new ArgumentException($"Listen: '{host}' is neither an IP address nor localhost.", nameof(listen));
            }

            kestrel.Limits.MaxRequestBodySize = maxRequestBodyBytes;
            kestrel.Limits.MaxRequestHeadersTotalSize = maxRequestHeadersBytes;
            kestrel.AddServerHeader = false;
        });
        var app = builder.Build();
        app.Run(handler);
        try
        {
            await app.StartAsync(cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            await app.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        string bound = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new KestrelListener(app, new Uri(bound.EndsWith('/') ? bound : bound + "/"));
    }

    /// <summary>
    /// TLS on a listen socket: the certificate is picked per handshake from files re-read when they change; with a client
    /// certificate authority, a client certificate chaining to it is required.
    /// </summary>
    private static Action<ListenOptions> Secure(ListenerTlsOptions tls)
    {
        tls.Validate();
        var certificate = new ReloadingCertificate(tls.CertificateFile!, tls.KeyFile!);
        var authorities = tls.ClientCertificateAuthorityFile is { } file ? CertificateTrust.LoadAuthorities(file) : null;
        return listenOptions => listenOptions.UseHttps(https =>
        {
            https.ServerCertificateSelector = (_, _) => certificate.Current;
            if (authorities is not null)
            {
                https.ClientCertificateMode = ClientCertificateMode.RequireCertificate;
                https.ClientCertificateValidation = (client, _, _) => CertificateTrust.IsTrustedClient(client, authorities);
            }
        });
    }

    /// <summary>Whether <paramref name="listen"/> binds to loopback only (<c>localhost</c>, 127.0.0.0/8, <c>::1</c>).</summary>
    public static bool IsLoopback(Uri listen)
        => listen.IdnHost.Equals("localhost", StringComparison.OrdinalIgnoreCase)
           || (IPAddress.TryParse(listen.IdnHost, out var address) && IPAddress.IsLoopback(address));

    /// <summary>Stops listening: requests in flight get 5 seconds, then their connections are aborted.</summary>
    public async ValueTask DisposeAsync()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        try
        {
            await _app.StopAsync(timeout.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // Connections that did not close in time are aborted by DisposeAsync.
        }

        await _app.DisposeAsync().ConfigureAwait(false);
    }
}

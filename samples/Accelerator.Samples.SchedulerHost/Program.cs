// A custom host embedding the P2P scheduler: the scheduler API is mapped into an ordinary ASP.NET Core application
// next to the host's own endpoints, with options from appsettings.json (section "Scheduler") and a hosted service
// that forgets silent peers. Run it with: dotnet run -- --urls http://127.0.0.1:8002 [--plain-http]
// (trusted registries before --plain-http: --Scheduler:TrustedRegistries:0=localhost:5000)
using System.Text.Json;
using Accelerator.P2P.Scheduling;
using Microsoft.Extensions.Options;

var builder = WebApplication.CreateBuilder(args);
builder.Services.AddOptions<P2PSchedulerServerOptions>()
    .Bind(builder.Configuration.GetSection("Scheduler"))
    // Registry hosts with a port are listed ("Hosts": [ { "Host": "localhost:5000", ... } ]); RegistryOptions.Bind
    // moves them to their host keys, which the plain binder above cannot.
    .Configure(o => o.Registry.Bind(builder.Configuration.GetSection("Scheduler:Registry")))
    .Configure(o => o.Registry.PlainHttp = args.Contains("--plain-http"))
    // The registries the scheduler vouches for ("TrustedRegistries": [ "localhost:5000" ]): every other one is refused.
    .Configure(o =>
    {
        foreach (string registry in builder.Configuration.GetSection("Scheduler:TrustedRegistries").Get<string[]>() ?? [])
        {
            if (!o.TrustedRegistries.Contains(registry, StringComparer.OrdinalIgnoreCase))
            {
                o.TrustedRegistries.Add(registry);
            }
        }
    })
    .Validate(o =>
    {
        o.Validate();
        return true;
    })
    .ValidateOnStart();
builder.Services.AddSingleton(TimeProvider.System);
builder.Services.AddSingleton(sp => new P2PScheduler(
    sp.GetRequiredService<IOptions<P2PSchedulerServerOptions>>().Value.Scheduler,
    sp.GetRequiredService<TimeProvider>(),
    sp.GetRequiredService<ILogger<P2PScheduler>>()));
builder.Services.AddSingleton(sp => new P2PSchedulerService(
    sp.GetRequiredService<P2PScheduler>(),
    sp.GetRequiredService<IOptions<P2PSchedulerServerOptions>>().Value,
    sp.GetRequiredService<ILoggerFactory>(),
    sp.GetRequiredService<TimeProvider>()));
builder.Services.AddHostedService<PeerSweeper>();

var app = builder.Build();
app.MapP2PScheduler(app.Services.GetRequiredService<P2PSchedulerService>());
// The host's own endpoint beside the scheduler API: a JSON summary for a dashboard.
app.MapGet("/status", (P2PScheduler scheduler) => Results.Json(scheduler.GetStatistics(), new JsonSerializerOptions(JsonSerializerDefaults.Web)));
app.Lifetime.ApplicationStarted.Register(() => Console.WriteLine($"Scheduler host listening on {string.Join(", ", app.Urls)}"));
await app.RunAsync();

/// <summary>Forgets peers that stopped sending heartbeats, four times per peer time-to-live.</summary>
internal sealed class PeerSweeper(P2PScheduler scheduler, TimeProvider time, ILogger<PeerSweeper> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(scheduler.Options.PeerTtl / 4, time);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            int forgotten = scheduler.Sweep();
            if (forgotten > 0)
            {
                logger.LogInformation("Forgot {Count} silent peer(s)", forgotten);
            }
        }
    }
}

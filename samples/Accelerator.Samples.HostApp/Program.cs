// A host app that mounts an image through dependency injection: `AddImageAccelerator` with options bound from
// appsettings.json. Usage: dotnet run --project samples/Accelerator.Samples.HostApp -- IMAGE DIR
// (IMAGE is a registry reference or oci:DIR[:TAG]; hosts listed under "Registries:Hosts" get their settings.)
using Accelerator;
using Accelerator.FullPull;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

if (args.Length != 2)
{
    Console.Error.WriteLine("usage: Accelerator.Samples.HostApp IMAGE DIR");
    return 2;
}

// appsettings.json sits beside the program, wherever it is started from.
var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { Args = args[2..], ContentRootPath = AppContext.BaseDirectory });
builder.Services.AddImageAccelerator(accelerator =>
{
    accelerator.UseFullPull();
    // RegistryOptions by name; hosts as a list of { "Host": "host[:port]", ... } because ':' separates configuration keys.
    accelerator.ConfigureRegistries(builder.Configuration.GetSection("Registries"));
});
builder.Services.Configure<ImageAcceleratorOptions>(builder.Configuration.GetSection("Accelerator"));
builder.Services.Configure<FullPullOptions>(builder.Configuration.GetSection("FullPull"));

using var host = builder.Build();
await host.StartAsync(); // validates every option (ValidateOnStart)

var images = host.Services.GetRequiredService<IImageAccelerator>();
await using var mounted = await images.MountAsync(ImageReference.Parse(args[0]), args[1]);
var stats = mounted.Statistics;
Console.WriteLine($"{mounted.Image} ({mounted.ManifestDigest}) at {mounted.MountPoint}: strategy {stats.Strategy}, " +
    $"{stats.BytesFetched} bytes fetched, ready in {stats.TimeToReady.TotalSeconds:F2} s.");
foreach (var (strategy, reason) in stats.Fallbacks)
{
    Console.WriteLine($"  skipped {strategy}: {reason}");
}

await host.StopAsync();
return 0;

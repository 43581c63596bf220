using Accelerator.FullPull;
using Accelerator.Oci.Registry;
using Accelerator.Testing.Samples;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Accelerator.Tests.Hosting;

public sealed class ImageAcceleratorServiceCollectionExtensionsTests : IDisposable
{
    private readonly string _temp = Directory.CreateTempSubdirectory("accel-hosting-").FullName;

    public void Dispose() => Directory.Delete(_temp, recursive: true);

    [Fact]
    public async Task AddImageAccelerator_OptionsFromConfiguration_MountsWithThem()
    {
        var image = await SampleImageGenerator.WriteLayoutAsync(Path.Combine(_temp, "layout"), new SampleImageOptions { LayerCount = 2, TotalSize = 256 * 1024 });
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Accelerator:Strategies:0"] = "Full",
            ["Accelerator:FullPull:MaxParallelDownloads"] = "2",
            ["Accelerator:FullPull:RemoveOnUnmount"] = "false",
            ["Accelerator:Registries:MaxRetries"] = "1",
            // A configuration key cannot hold host:port (':' separates sections), so the host here has no port.
            ["Accelerator:Registries:Hosts:registry.test:PlainHttp"] = "true",
        }).Build();
        var services = new ServiceCollection();
        services.Configure<ImageAcceleratorOptions>(configuration.GetSection("Accelerator"));
        services.Configure<FullPullOptions>(configuration.GetSection("Accelerator:FullPull"));
        services.Configure<RegistryOptions>(configuration.GetSection("Accelerator:Registries"));
        services.AddImageAccelerator(a => a.UseFullPull());
        await using var provider = services.BuildServiceProvider(validateScopes: true);
        provider.GetRequiredService<IStartupValidator>().Validate();

        var accelerator = provider.GetRequiredService<IImageAccelerator>();
        string mountPoint = Path.Combine(_temp, "rootfs");
        await using (var mounted = await accelerator.MountAsync(ImageReference.Parse(image.OciReference), mountPoint))
        {
            Assert.Equal(Strategy.Full, mounted.Statistics.Strategy);
        }

        // The bound list replaces the default order rather than being appended to it.
        Assert.Equal([Strategy.Full], provider.GetRequiredService<IOptions<ImageAcceleratorOptions>>().Value.Strategies);
        Assert.Equal([Strategy.Full], accelerator.Strategies);
        Assert.Equal(2, provider.GetRequiredService<IOptions<FullPullOptions>>().Value.MaxParallelDownloads);
        Assert.Equal(1, provider.GetRequiredService<IOptions<RegistryOptions>>().Value.MaxRetries);
        Assert.True(provider.GetRequiredService<IOptions<RegistryOptions>>().Value.Hosts["registry.test"].PlainHttp);
        Assert.All(image.Files, f => Assert.Equal(f.Value, new FileInfo(Path.Combine(mountPoint, f.Key)).Length));
    }

    [Fact]
    public async Task AddImageAccelerator_InvalidOptionsFromConfiguration_FailStartupValidation()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["FullPull:MaxParallelDownloads"] = "0",
        }).Build();
        var services = new ServiceCollection();
        services.Configure<FullPullOptions>(configuration.GetSection("FullPull"));
        services.AddImageAccelerator(a => a.UseFullPull());
        await using var provider = services.BuildServiceProvider();

        var error = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IStartupValidator>().Validate());

        Assert.Contains(nameof(FullPullOptions.MaxParallelDownloads), error.Message);
    }
}

using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Accelerator.Tests;

public sealed class ImageAcceleratorBuilderTests
{
    [Fact]
    public void Build_DuplicateStrategies_ThrowsAtStart()
    {
        var builder = new ImageAcceleratorBuilder().PreferStrategies(Strategy.Full, Strategy.Full);

        var ex = Assert.Throws<OptionsValidationException>(() => builder.Build());
        Assert.Contains("more than once", ex.Message);
    }

    [Fact]
    public void Build_EmptyStrategies_ThrowsAtStart()
    {
        var builder = new ImageAcceleratorBuilder().PreferStrategies();

        Assert.Throws<OptionsValidationException>(() => builder.Build());
    }

    [Fact]
    public void Build_EmptyWorkDirectory_ThrowsAtStart()
    {
        var builder = new ImageAcceleratorBuilder().Configure(o => o.WorkDirectory = "");

        Assert.Throws<OptionsValidationException>(() => builder.Build());
    }

    [Fact]
    public async Task AddImageAccelerator_WithHost_ValidatesOnStart()
    {
        var services = new ServiceCollection();
        services.AddImageAccelerator(a => a.PreferStrategies(Strategy.Lazy, Strategy.Lazy));
        await using var provider = services.BuildServiceProvider();

        Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IStartupValidator>().Validate());
    }

    [Fact]
    public async Task AddImageAccelerator_ReturnsBuilderOverSameServices()
    {
        var services = new ServiceCollection();
        var builder = services.AddImageAccelerator();

        Assert.Same(services, builder.Services);
        await using var provider = services.BuildServiceProvider();
        Assert.NotNull(provider.GetRequiredService<IImageAccelerator>());
    }
}

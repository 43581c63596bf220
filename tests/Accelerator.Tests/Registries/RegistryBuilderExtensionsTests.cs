using Accelerator.Oci.Registry;
using Microsoft.Extensions.Options;

namespace Accelerator.Tests.Registries;

public sealed class RegistryBuilderExtensionsTests
{
    [Theory]
    [InlineData("registry.test/team")]
    [InlineData("https://registry.test")]
    [InlineData("Registry Test")]
    public void Build_HostKeyNotAHost_ThrowsOptionsValidationException(string host)
    {
        var builder = new ImageAcceleratorBuilder().UseFullPull().AddRegistry(host, r => r.PlainHttp = true);

        var error = Assert.Throws<OptionsValidationException>(() => builder.Build());

        Assert.Equal(typeof(RegistryOptions), error.OptionsType);
        Assert.Contains($"'{host}' is not a registry host[:port]", error.Message);
    }

    [Fact]
    public void Build_UsernameWithoutPassword_ThrowsOptionsValidationException()
    {
        var builder = new ImageAcceleratorBuilder().AddRegistry("registry.test:5000", r => r.Username = "me");

        var error = Assert.Throws<OptionsValidationException>(() => builder.Build());

        Assert.Contains("Username and Password go together", error.Message);
    }

    [Fact]
    public void Build_RetriesOutOfRange_ThrowsOptionsValidationException()
    {
        var builder = new ImageAcceleratorBuilder().ConfigureRegistries(o => o.MaxRetries = 100);

        var error = Assert.Throws<OptionsValidationException>(() => builder.Build());

        Assert.Contains(nameof(RegistryOptions.MaxRetries), error.Message);
    }

    [Fact]
    public async Task Build_ValidHosts_ResolvesTheClientWithThem()
    {
        await using var accelerator = new ImageAcceleratorBuilder()
            .AddRegistry("registry.test:5000", r => r.PlainHttp = true)
            .AddRegistry("localhost", r => { r.Username = "me"; r.Password = "secret"; })
            .Build();

        var options = ((IServiceProvider)accelerator.Services).GetService(typeof(IOptions<RegistryOptions>)) as IOptions<RegistryOptions>;
        Assert.True(options!.Value.Hosts["registry.test:5000"].PlainHttp);
        Assert.NotNull(accelerator.Services.GetService(typeof(RegistryClient)));
    }
}

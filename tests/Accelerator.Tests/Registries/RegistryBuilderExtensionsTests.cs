using Accelerator.Oci.Registry;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
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

    [Fact]
    public void AddImageAccelerator_ConfigureRegistriesFromJson_HostPortKeyBound()
    {
        var configuration = Json("""
            {
              "Registries": {
                "MaxRetries": 1,
                "Hosts": [ { "Host": "localhost:5000", "PlainHttp": true }, { "Host": "registry.test", "Username": "me", "Password": "secret" } ]
              }
            }
            """);
        var services = new ServiceCollection();
        services.AddImageAccelerator(a => a.UseFullPull().ConfigureRegistries(configuration.GetSection("Registries")));
        using var provider = services.BuildServiceProvider();

        var options = provider.GetRequiredService<IOptions<RegistryOptions>>().Value;

        Assert.Equal(1, options.MaxRetries);
        Assert.True(options.Hosts["localhost:5000"].PlainHttp);
        Assert.Equal("me", options.Hosts["registry.test"].Username);
        Assert.Equal(2, options.Hosts.Count);
        Assert.NotNull(provider.GetService<RegistryClient>());
    }

    [Fact]
    public async Task Build_ConfigurationAndAddRegistrySameHost_Merged()
    {
        var configuration = Json("""{ "Hosts": [ { "Host": "localhost:5000", "PlainHttp": true } ] }""");

        await using var accelerator = new ImageAcceleratorBuilder()
            .UseFullPull()
            .ConfigureRegistries(configuration)
            .AddRegistry("localhost:5000", r => { r.Username = "me"; r.Password = "secret"; })
            .Build();

        var options = ((IOptions<RegistryOptions>)accelerator.Services.GetService(typeof(IOptions<RegistryOptions>))!).Value;
        var host = Assert.Single(options.Hosts).Value;
        Assert.True(host.PlainHttp);
        Assert.Equal("me", host.Username);
    }

    [Fact]
    public void Build_HostPortAsConfigurationKey_SaysToUseTheList()
    {
        var configuration = Json("""{ "Hosts": { "localhost:5000": { "PlainHttp": true } } }""");
        var builder = new ImageAcceleratorBuilder().UseFullPull().ConfigureRegistries(configuration);

        var error = Assert.Throws<InvalidOperationException>(() => builder.Build());

        Assert.Contains("\"Host\": \"localhost:5000\"", error.Message, StringComparison.Ordinal);
    }

    private static IConfiguration Json(string json)
        => new ConfigurationBuilder().AddJsonStream(new MemoryStream(System.Text.Encoding.UTF8.GetBytes(json))).Build();
}

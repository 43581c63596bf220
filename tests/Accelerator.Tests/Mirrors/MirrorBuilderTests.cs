using Accelerator.Oci;
using Accelerator.Oci.Mirrors;
using Accelerator.Oci.Registry;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Accelerator.Tests.Mirrors;

/// <summary>Mirrors through the builder and DI: wiring, per-host settings, validation at start.</summary>
public sealed class MirrorBuilderTests : IDisposable
{
    private readonly string _hosts = Directory.CreateTempSubdirectory("accel-builder-hosts-").FullName;

    public void Dispose() => Directory.Delete(_hosts, recursive: true);

    [Fact]
    public void Build_AddMirror_StoresReadThroughMirrorSet()
    {
        using var host = new ImageAcceleratorBuilder()
            .AddRegistry("registry.example:5000", r => r.PlainHttp = true)
            .AddMirror("registry.example:5000", "http://mirror-a.example:5000")
            .AddMirror("registry.example:5000", "https://mirror-b.example/cache", m => m.Capabilities |= MirrorCapabilities.Resolve)
            .UseMirrors(o => o.LoadBalancing = LoadBalancingPolicy.ConsistentHash)
            .UseFullPull()
            .Build();

        var resolver = host.Services.GetRequiredService<ImageStoreResolver>();
        Assert.NotNull(resolver.Mirrors);
        var store = Assert.IsType<MirroredImageStore>(resolver.GetStore(ImageReference.Parse("registry.example:5000/team/app:1")));
        Assert.Equal(["mirror-a.example:5000", "mirror-b.example"], store.Mirrors);
        Assert.Equal("registry.example:5000", store.Origin);
        Assert.IsNotType<MirroredImageStore>(resolver.GetStore(ImageReference.Parse("other.example/team/app:1")));

        // The http:// mirror is plain HTTP for that host only; the path becomes the API root.
        var registries = host.Services.GetRequiredService<IOptions<RegistryOptions>>().Value;
        Assert.True(registries.Hosts["mirror-a.example:5000"].PlainHttp);
        Assert.False(registries.Hosts["mirror-b.example"].PlainHttp);
        Assert.Equal("/cache/v2", registries.Hosts["mirror-b.example"].ApiPath);
        Assert.False(registries.PlainHttp);
    }

    [Fact]
    public void Build_UseHostsDirectory_NamespacesAndDefault()
    {
        Write("registry.example_5000_", "[host.\"http://mirror.example:5000\"]\ncapabilities = [\"pull\"]\n");
        Write("_default", "[host.\"https://everyone.example\"]\ncapabilities = [\"pull\"]\n");
        using var host = new ImageAcceleratorBuilder().UseHostsDirectory(_hosts).UseFullPull().Build();

        var resolver = host.Services.GetRequiredService<ImageStoreResolver>();
        Assert.Equal(["mirror.example:5000"], Assert.IsType<MirroredImageStore>(resolver.GetStore(ImageReference.Parse("registry.example:5000/a/b:c"))).Mirrors);
        Assert.Equal(["everyone.example"], Assert.IsType<MirroredImageStore>(resolver.GetStore(ImageReference.Parse("quay.io/a/b:c"))).Mirrors);
    }

    [Fact]
    public void Build_MalformedHostsFile_FailsAtStartNamingFileAndLine()
    {
        Write("docker.io", "server = \"https://registry-1.docker.io\"\n\n[host.\"https://m.example\"]\n  capabilities = [\"pull\", \"teleport\"]\n");
        var builder = new ImageAcceleratorBuilder().UseHostsDirectory(_hosts).UseFullPull();

        var error = Assert.Throws<OptionsValidationException>(() => builder.Build());
        Assert.Contains(Path.Combine(_hosts, "docker.io", "hosts.toml") + ":4:", error.Message, StringComparison.Ordinal);
        Assert.Contains("teleport", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Build_InvalidMirrorOptions_FailsAtStart()
    {
        var builder = new ImageAcceleratorBuilder().UseMirrors(o =>
        {
            o.MinimumBackoff = TimeSpan.FromMinutes(10);
            o.MaximumBackoff = TimeSpan.FromMinutes(1);
            o.Registries["not a host"] = new RegistryMirrors();
        });

        var error = Assert.Throws<OptionsValidationException>(() => builder.Build());
        Assert.Contains("MinimumBackoff", error.Message, StringComparison.Ordinal);
        Assert.Contains("not a host", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AddMirror_BadUrl_ThrowsAtOnce()
    {
        var builder = new ImageAcceleratorBuilder();
        var error = Assert.Throws<ArgumentException>(() => builder.AddMirror("registry.example", "ftp://mirror.example"));
        Assert.Contains("http", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AddImageAccelerator_WithMirrors_MirroredRegistriesIsOneSingleton()
    {
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddImageAccelerator(a => a.AddMirror("registry.example", "https://m.example").UseFullPull());
        await using var provider = services.BuildServiceProvider();
        provider.GetRequiredService<IStartupValidator>().Validate();

        Assert.Same(provider.GetRequiredService<MirroredRegistries>(), provider.GetRequiredService<ImageStoreResolver>().Mirrors);
    }

    private void Write(string directory, string text)
    {
        Directory.CreateDirectory(Path.Combine(_hosts, directory));
        File.WriteAllText(Path.Combine(_hosts, directory, "hosts.toml"), text);
    }
}

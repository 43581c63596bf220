using Accelerator.Oci.Mirrors;
using Accelerator.Oci.Registry;
using Microsoft.Extensions.Options;

namespace Accelerator.Oci.Tests.Mirrors;

/// <summary>containerd's hosts directory layout and how its settings reach the registry client.</summary>
public sealed class HostsDirectoryTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("accel-hostsdir-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Theory]
    [InlineData("docker.io", "docker.io")]
    [InlineData("myregistry.io_5000_", "myregistry.io:5000")]
    [InlineData("myregistry.io:5000", "myregistry.io:5000")]
    [InlineData("127.0.0.1_5000_", "127.0.0.1:5000")]
    [InlineData("_default", "_default")]
    [InlineData("notaregistry", null)]
    [InlineData("a_b_", null)]
    public void NamespaceOf_DirectoryNames_MapToRegistries(string directory, string? expected)
        => Assert.Equal(expected, HostsDirectory.NamespaceOf(directory));

    [Fact]
    public void Load_Namespaces_UnderscorePortFormWinsAndDirectoriesWithoutFileSkipped()
    {
        Write("myregistry.io_5000_", "[host.\"https://first.example\"]\n");
        Write("myregistry.io:5000", "[host.\"https://second.example\"]\n");
        Write("_default", "[host.\"http://fallback.example:5000\"]\ncapabilities = [\"pull\"]\n");
        Directory.CreateDirectory(Path.Combine(_root, "certs-only.example"));

        var loaded = HostsDirectory.Load(_root);

        Assert.Equal(["_default", "myregistry.io:5000"], loaded.Keys.Order(StringComparer.Ordinal));
        Assert.Equal("first.example", loaded["myregistry.io:5000"].Hosts.Single().Url.Host);
    }

    [Fact]
    public void Load_MalformedFile_ErrorNamesFileAndLine()
    {
        Write("docker.io", "[host.\"https://m.example\"]\ncapabilities = [\"pull\", 3]\n");
        var error = Assert.Throws<HostsFileException>(() => HostsDirectory.Load(_root));
        Assert.Equal(Path.Combine(_root, "docker.io", "hosts.toml"), error.Path);
        Assert.Equal(2, error.Line);
    }

    [Fact]
    public void Configuration_HostsDirectory_AppliesPlainHttpApiPathAndHeadersPerHost()
    {
        Write("registry.example:5000", """
            server = "http://registry.example:5000"
            [host."http://mirror-a.example:5000"]
              capabilities = ["pull"]
            [host."https://harbor.example/v2/proxy"]
              override_path = true
              skip_verify = true
              [host."https://harbor.example/v2/proxy".header]
                x-harbor = "1"
            """);
        var configuration = MirrorConfiguration.Load(new MirrorOptions { HostsDirectory = _root });
        var registryOptions = new RegistryOptions();
        configuration.ApplyTo(registryOptions);

        Assert.True(registryOptions.Hosts["mirror-a.example:5000"].PlainHttp);
        Assert.Null(registryOptions.Hosts["mirror-a.example:5000"].ApiPath);
        Assert.True(registryOptions.Hosts["registry.example:5000"].PlainHttp);
        var harbor = registryOptions.Hosts["harbor.example"];
        Assert.False(harbor.PlainHttp);
        Assert.True(harbor.SkipTlsVerify);
        Assert.Equal("/v2/proxy", harbor.ApiPath);
        Assert.Equal(["1"], harbor.Headers["x-harbor"]);

        using var client = new RegistryClient(registryOptions);
        Assert.Equal(new Uri("https://harbor.example/v2/proxy/library/nginx/manifests/latest"), client.ApiUri("harbor.example", "v2/library/nginx/manifests/latest"));
        Assert.Equal(new Uri("http://mirror-a.example:5000/v2/library/nginx/blobs/x"), client.ApiUri("mirror-a.example:5000", "v2/library/nginx/blobs/x"));
    }

    [Fact]
    public void Configuration_OneHostTwoApiPaths_Refused()
    {
        var options = new MirrorOptions();
        options.Mirrors.Add(MirrorEndpoint.Parse("https://m.example/a"));
        options.Mirrors.Add(MirrorEndpoint.Parse("https://m.example/b"));
        var error = Assert.Throws<OptionsValidationException>(() => MirrorConfiguration.Load(options));
        Assert.Contains("two API paths", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Configuration_BadOptions_AllFailuresReported()
    {
        var options = new MirrorOptions { MinimumBackoff = TimeSpan.FromMinutes(5), MaximumBackoff = TimeSpan.FromSeconds(1), StallTimeout = TimeSpan.Zero };
        options.Registries["not a registry"] = new RegistryMirrors();
        options.Mirrors.Add(new MirrorEndpoint(new Uri("ftp://m.example/")));
        var error = Assert.Throws<OptionsValidationException>(() => MirrorConfiguration.Load(options));
        Assert.Equal(4, error.Failures.Count());
    }

    [Theory]
    [InlineData("https://registry-1.docker.io", "docker.io")]
    [InlineData("http://127.0.0.1:5000", "127.0.0.1:5000")]
    [InlineData("https://mirror.example/path", "mirror.example")]
    [InlineData("http://mirror", "mirror:80")]
    [InlineData("https://localhost", "localhost")]
    public void HostKey_Urls_RegistryHostKeys(string url, string key) => Assert.Equal(key, MirrorConfiguration.HostKey(new Uri(url)));

    private void Write(string directory, string text)
    {
        Directory.CreateDirectory(Path.Combine(_root, directory));
        File.WriteAllText(Path.Combine(_root, directory, "hosts.toml"), text);
    }
}

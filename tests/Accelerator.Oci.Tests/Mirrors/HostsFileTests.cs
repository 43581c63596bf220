using Accelerator.Oci.Mirrors;

namespace Accelerator.Oci.Tests.Mirrors;

/// <summary>containerd hosts.toml files: the documented examples, every field, and malformed files.</summary>
public sealed class HostsFileTests
{
    [Fact]
    public void Parse_DockerHubExample_ServerAndResolvingHost()
    {
        var file = HostsFile.Parse("""
            server = "https://docker.io"

            [host."https://registry-1.docker.io"]
              capabilities = ["pull", "resolve"]
            """, "docker.io/hosts.toml", "docker.io");

        Assert.Equal(new Uri("https://docker.io"), file.Server!.Url);
        Assert.Equal(MirrorCapabilities.All, file.Server.Capabilities);
        var host = Assert.Single(file.Hosts);
        Assert.Equal(new Uri("https://registry-1.docker.io"), host.Url);
        Assert.Equal(MirrorCapabilities.Pull | MirrorCapabilities.Resolve, host.Capabilities);
        Assert.Empty(file.Warnings);
    }

    [Fact]
    public void Parse_EveryField_KeptInFileOrder()
    {
        var file = HostsFile.Parse("""
            server = "registry.example:5000"
            capabilities = ["pull", "resolve", "push"]
            skip_verify = true
            [header]
              x-origin = "o"

            [host."https://z-mirror.example"]
              capabilities = ["pull"]
              [host."https://z-mirror.example".header]
                x-custom = ["a", "b"]

            [host."http://a-mirror.example:5000/us"]
              capabilities = ["PULL", "Resolve"]
              skip_verify = false

            [host."https://harbor.example/v2/dockerhub-proxy"]
              override_path = true

            [host."https://empty.example"]
            """, "hosts.toml");

        Assert.Equal(["https://z-mirror.example/", "http://a-mirror.example:5000/us", "https://harbor.example/v2/dockerhub-proxy", "https://empty.example/"], file.Hosts.Select(h => h.Url.ToString()));
        Assert.Equal(["a", "b"], file.Hosts[0].Headers["x-custom"]);
        Assert.Equal(MirrorCapabilities.Pull, file.Hosts[0].Capabilities);
        Assert.Equal(MirrorCapabilities.Pull | MirrorCapabilities.Resolve, file.Hosts[1].Capabilities);
        Assert.Equal("/us/v2", file.Hosts[1].ApiPath);
        Assert.True(file.Hosts[2].OverridePath);
        Assert.Equal("/v2/dockerhub-proxy", file.Hosts[2].ApiPath);
        Assert.Equal(MirrorCapabilities.All, file.Hosts[3].Capabilities);
        Assert.Equal("/v2", file.Hosts[3].ApiPath);

        // A server without a scheme is https, as in containerd; root-level settings belong to it.
        Assert.Equal(new Uri("https://registry.example:5000"), file.Server!.Url);
        Assert.True(file.Server.SkipTlsVerify);
        Assert.Equal(["o"], file.Server.Headers["x-origin"]);
    }

    [Fact]
    public void Parse_DottedAndInlineForms_SameAsTables()
    {
        var file = HostsFile.Parse("""
            host."https://a.example".capabilities = ["pull"]
            host."https://b.example" = { capabilities = ["pull", "resolve"], header = { x-b = "1" } }
            """, "hosts.toml");

        Assert.Equal(["https://a.example/", "https://b.example/"], file.Hosts.Select(h => h.Url.ToString()));
        Assert.Equal(MirrorCapabilities.Pull, file.Hosts[0].Capabilities);
        Assert.Equal(["1"], file.Hosts[1].Headers["x-b"]);
    }

    [Fact]
    public void Parse_UnsupportedAndUnknownSettings_WarnedAndIgnored()
    {
        var file = HostsFile.Parse("""
            [host."https://m.example"]
              capabilities = ["pull"]
              ca = "/etc/certs/m.pem"
              dial_timeout = "1s"
              colour = "blue"
            """, "dir/hosts.toml");

        Assert.Single(file.Hosts);
        Assert.Equal(3, file.Warnings.Count);
        Assert.Contains(file.Warnings, w => w.Contains("dir/hosts.toml:3:", StringComparison.Ordinal) && w.Contains("ca", StringComparison.Ordinal));
        Assert.Contains(file.Warnings, w => w.Contains("colour", StringComparison.Ordinal));
    }

    [Fact]
    public void Parse_RootSettingsWithoutServer_ApplyToTheNamespace()
    {
        var file = HostsFile.Parse("skip_verify = true\n", "r/hosts.toml", "registry.example:5000");
        Assert.Equal(new Uri("https://registry.example:5000"), file.Server!.Url);
        Assert.True(file.Server.SkipTlsVerify);
        Assert.Null(HostsFile.Parse("", "r/hosts.toml", "registry.example:5000").Server);
    }

    [Theory]
    [InlineData("server = \n", 1, "value")]
    [InlineData("[host.\"https://m\"]\ncapabilities = [\"pull\"\n", 3, "")]
    [InlineData("[host.\"https://m\"]\ncapabilities = [\"pull\", \"fly\"]\n", 2, "unknown capability 'fly'")]
    [InlineData("[host.\"https://m\"]\ncapabilities = \"pull\"\n", 2, "array of strings")]
    [InlineData("[host.\"https://m\"]\nskip_verify = \"yes\"\n", 2, "true or false")]
    [InlineData("\n\n[host.\"ftp://m\"]\n", 3, "only http and https")]
    [InlineData("[host.\"https://user:pw@m\"]\n", 1, "credentials")]
    [InlineData("server = 5\n", 1, "string URL")]
    [InlineData("[[host]]\nx = 1\n", 1, "arrays of tables")]
    [InlineData("host = \"https://m\"\n", 1, "table")]
    [InlineData("[host.\"https://m\"]\nheader = \"x\"\n", 2, "table of header names")]
    [InlineData("[host.\"https://m\".header]\n\"bad header\" = \"x\"\n", 2, "not a valid HTTP header")]
    [InlineData("a = 1\na = 2\n", 2, "already defined")]
    public void Parse_Malformed_OneErrorNamingFileAndLine(string text, int line, string problem)
    {
        var error = Assert.Throws<HostsFileException>(() => HostsFile.Parse(text, "/etc/containerd/certs.d/r/hosts.toml"));
        Assert.Equal("/etc/containerd/certs.d/r/hosts.toml", error.Path);
        Assert.Equal(line, error.Line);
        Assert.StartsWith($"/etc/containerd/certs.d/r/hosts.toml:{line}:", error.Message, StringComparison.Ordinal);
        Assert.Contains(problem, error.Message, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain('\n', error.Message);
    }

    [Fact]
    public void Load_InvalidUtf8OrTooLarge_Refused()
    {
        string dir = Directory.CreateTempSubdirectory("accel-hosts-").FullName;
        try
        {
            string path = Path.Combine(dir, "hosts.toml");
            File.WriteAllBytes(path, [0x73, 0x3d, 0x22, 0xff, 0xfe, 0x22, 0x0a]);
            Assert.Contains("UTF-8", Assert.Throws<HostsFileException>(() => HostsFile.Load(path)).Message, StringComparison.Ordinal);
            File.WriteAllText(path, "# " + new string('x', HostsFile.MaxFileBytes) + "\n");
            Assert.Contains("over", Assert.Throws<HostsFileException>(() => HostsFile.Load(path)).Message, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }
}

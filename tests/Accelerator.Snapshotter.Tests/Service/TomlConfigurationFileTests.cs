using Accelerator.Snapshotter.Configuration;
using Accelerator.Snapshotter.Hosting;
using Microsoft.Extensions.Configuration;

namespace Accelerator.Snapshotter.Tests.Service;

public sealed class TomlConfigurationFileTests
{
    [Fact]
    public void Parse_TablesBecomeSections_SnakeCaseBindsPascalCase()
    {
        var values = TomlConfigurationFile.Parse(
            """
            [snapshotter]
            root = "/data/accel"
            address = "/run/x.sock"

            [cri_proxy]
            listen_address = "/run/cri.sock"
            enabled = true
            mirrors = ["a", "b"]
            """,
            "test.toml");
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(values).Build();

        var options = new SnapshotterOptions();
        configuration.GetSection(SnapshotterOptions.SectionName).Bind(options);

        Assert.Equal(("/data/accel", "/run/x.sock"), (options.Root, options.Address));
        Assert.Equal("/run/cri.sock", configuration["cri_proxy:listen_address"]);
        Assert.Equal("/run/cri.sock", configuration["criproxy:ListenAddress"]);
        Assert.Equal("true", configuration["cri_proxy:enabled"]);
        Assert.Equal("b", configuration["cri_proxy:mirrors:1"]);
    }

    [Fact]
    public void Parse_InvalidToml_FormatExceptionNamingTheFile()
    {
        var error = Assert.Throws<FormatException>(() => TomlConfigurationFile.Parse("[snapshotter\nroot = ", "bad.toml"));

        Assert.Contains("bad.toml", error.Message, StringComparison.Ordinal);
    }
}

using System.Text;
using Accelerator.Oci.Mirrors;
using Accelerator.Testing.Fuzzing;

namespace Accelerator.Oci.Tests.Mirrors;

/// <summary>Mutated and random hosts.toml files: one <see cref="HostsFileException"/>, or a file whose every endpoint is usable.</summary>
public sealed class HostsFileFuzzTests
{
    private static readonly string[] Seeds =
    [
        """
        server = "https://registry-1.docker.io"
        [host."https://mirror.example"]
          capabilities = ["pull", "resolve"]
          skip_verify = true
          [host."https://mirror.example".header]
            x-custom = ["a", "b"]
        [host."http://10.0.0.1:5000/us"]
          capabilities = ["pull"]
          override_path = true
        """,
        """
        host."https://a.example" = { capabilities = ["pull"], header = { x = "1" } }
        [header]
          y = "2"
        """,
        "server = \"r.example:5000\"\ncapabilities = []\n",
    ];

    [Fact]
    public void Parse_MutatedFiles_CleanErrorOrUsableEndpoints()
    {
        var random = new Random(20251128);
        for (int i = 0; i < 4000; i++)
        {
            byte[] seed = Encoding.UTF8.GetBytes(Seeds[random.Next(Seeds.Length)]);
            Check(Encoding.UTF8.GetString(FuzzInput.Mutate(seed, random)));
        }
    }

    [Fact]
    public void Parse_RandomText_CleanError()
    {
        var random = new Random(77);
        for (int i = 0; i < 2000; i++)
        {
            Check(Encoding.UTF8.GetString(FuzzInput.RandomBytes(random, 256)));
        }
    }

    private static void Check(string text)
    {
        HostsFile file;
        try
        {
            file = HostsFile.Parse(text, "fuzz/hosts.toml", "registry.example");
        }
        catch (HostsFileException ex)
        {
            Assert.StartsWith("fuzz/hosts.toml", ex.Message, StringComparison.Ordinal);
            return;
        }

        foreach (var endpoint in file.Hosts.Append(file.Server).OfType<MirrorEndpoint>())
        {
            Assert.Null(endpoint.Problem());
            Assert.StartsWith("/", endpoint.ApiPath, StringComparison.Ordinal);
            Assert.NotEqual(MirrorCapabilities.None, endpoint.Capabilities);
            Assert.True(MirrorConfiguration.IsRegistryKey(MirrorConfiguration.HostKey(endpoint.Url)) || endpoint.Url.Host.Length > 0);
        }

        Assert.True(file.Hosts.Count <= HostsFile.MaxHosts);
    }
}

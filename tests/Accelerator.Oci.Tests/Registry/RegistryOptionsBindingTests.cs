using System.Text;
using Accelerator.Oci.Registry;
using Microsoft.Extensions.Configuration;

namespace Accelerator.Oci.Tests.Registry;

/// <summary><see cref="RegistryOptions.Bind(IConfiguration)"/> from JSON configuration as appsettings.json gives it.</summary>
public sealed class RegistryOptionsBindingTests
{
    [Fact]
    public void Bind_HostsArrayWithPort_KeyedByHost()
    {
        var options = Bind("""
            {
              "MaxRetries": 2,
              "RequestTimeout": "00:00:05",
              "Hosts": [
                { "Host": "localhost:5000", "PlainHttp": true, "ApiPath": "/v2/upstream" },
                { "Host": "registry.example.com:8443", "Username": "ci", "Password": "secret", "Headers": { "X-Team": [ "a", "b" ] } }
              ]
            }
            """);

        Assert.Equal(2, options.MaxRetries);
        Assert.Equal(TimeSpan.FromSeconds(5), options.RequestTimeout);
        Assert.Equal(["localhost:5000", "registry.example.com:8443"], options.Hosts.Keys.Order(StringComparer.Ordinal));
        Assert.True(options.Hosts["localhost:5000"].PlainHttp);
        Assert.Equal("/v2/upstream", options.Hosts["LOCALHOST:5000"].ApiPath);
        var example = options.Hosts["registry.example.com:8443"];
        Assert.False(example.PlainHttp);
        Assert.Equal(("ci", "secret"), (example.Username, example.Password));
        Assert.Equal(["a", "b"], example.Headers["X-Team"]);
        RegistryOptionsValidator.ThrowIfInvalid(options);
    }

    [Fact]
    public void Bind_HostsObjectWithoutPort_KeyedByName()
    {
        var options = Bind("""{ "Hosts": { "registry.example.com": { "SkipTlsVerify": true } } }""");

        Assert.True(Assert.Single(options.Hosts, h => h.Key == "registry.example.com").Value.SkipTlsVerify);
    }

    [Fact]
    public void Bind_HostAlreadyConfiguredInCode_Merged()
    {
        var options = new RegistryOptions();
        options.Hosts["localhost:5000"] = new RegistryHostOptions { Username = "u", Password = "p" };

        options.Bind(Configuration("""{ "Hosts": [ { "Host": "localhost:5000", "PlainHttp": true } ] }"""));

        var host = Assert.Single(options.Hosts).Value;
        Assert.True(host.PlainHttp);
        Assert.Equal("u", host.Username);
    }

    [Fact]
    public void Bind_HostPortAsObjectKey_ClearError()
    {
        var error = Assert.Throws<InvalidOperationException>(() => Bind("""{ "Hosts": { "localhost:5000": { "PlainHttp": true } } }"""));

        Assert.Contains("'localhost:5000' cannot be a configuration key", error.Message, StringComparison.Ordinal);
        Assert.Contains("\"Host\": \"localhost:5000\"", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Bind_EntryWithoutHost_ClearError()
    {
        var error = Assert.Throws<InvalidOperationException>(() => Bind("""{ "Hosts": [ { "PlainHttp": true } ] }"""));

        Assert.Contains("Hosts:0", error.Message, StringComparison.Ordinal);
        Assert.Contains("needs \"Host\"", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Bind_NoHostsSection_LeavesHostsAndDefaults()
    {
        var options = new RegistryOptions();
        options.Hosts["a.example"] = new RegistryHostOptions();

        options.Bind(Configuration("""{ "PlainHttp": true }"""));

        Assert.True(options.PlainHttp);
        Assert.Equal(4, options.MaxRetries);
        Assert.Equal("a.example", Assert.Single(options.Hosts).Key);
    }

    [Fact]
    public void Bind_RandomConfiguration_BindsOrClearError()
    {
        var random = new Random(3);
        string[] keys = ["Hosts:0:Host", "Hosts:0:PlainHttp", "Hosts:1:Host", "Hosts:localhost:5000:PlainHttp", "Hosts:a:PlainHttp", "Hosts:7", "Hosts", "MaxRetries", "Hosts:0:Headers:X:0"];
        string[] values = ["localhost:5000", "true", "x", "", "5", "reg.example", "[::1]:5000"];
        for (int round = 0; round < 2_000; round++)
        {
            var data = new Dictionary<string, string?>();
            for (int i = random.Next(1, 5); i > 0; i--)
            {
                data[keys[random.Next(keys.Length)]] = values[random.Next(values.Length)];
            }

            var options = new RegistryOptions();
            try
            {
                options.Bind(new ConfigurationBuilder().AddInMemoryCollection(data).Build());
            }
            catch (Exception ex) when (ex is InvalidOperationException)
            {
                continue;
            }

            // No entry is left under its list index (a Host that is itself a number is the validator's to refuse).
            var hosts = data.Where(d => d.Key.EndsWith(":Host", StringComparison.Ordinal)).Select(d => d.Value).ToHashSet(StringComparer.OrdinalIgnoreCase);
            Assert.DoesNotContain(options.Hosts.Keys, key => key.All(char.IsAsciiDigit) && !hosts.Contains(key));
        }
    }

    private static RegistryOptions Bind(string json)
    {
        var options = new RegistryOptions();
        options.Bind(Configuration(json));
        return options;
    }

    private static IConfiguration Configuration(string json)
        => new ConfigurationBuilder().AddJsonStream(new MemoryStream(Encoding.UTF8.GetBytes(json))).Build();
}

using Accelerator.Oci.Registry;

namespace Accelerator.Testing.Registry;

/// <summary>Registry client options for tests against the loopback registries this library starts.</summary>
public static class TestRegistryOptions
{
    /// <summary>The docker config path tests use so that the machine's credentials never leak in.</summary>
    public const string NoDockerConfig = "/nonexistent/accelerator-test/config.json";

    /// <summary>Plain HTTP, fast retries (20 ms base), a 10-second request timeout, and no docker config of the machine.</summary>
    public static RegistryOptions Create(Action<RegistryOptions>? configure = null)
    {
        var options = new RegistryOptions
        {
            PlainHttp = true,
            RetryBaseDelay = TimeSpan.FromMilliseconds(20),
            RequestTimeout = TimeSpan.FromSeconds(10),
            DockerConfigPath = NoDockerConfig,
        };
        configure?.Invoke(options);
        return options;
    }
}

using Accelerator.Oci.Registry;

namespace Accelerator.Oci.Tests.Registry;

/// <summary>The catalog page parser (<c>GET /v2/_catalog</c>), which the replicator lists source repositories with.</summary>
public sealed class RegistryCatalogParseTests
{
    [Theory]
    [InlineData("{\"repositories\":[\"a\",\"b/c\"]}", 2)]
    [InlineData("{\"repositories\":null}", 0)]
    [InlineData("{}", 0)]
    public void ParseCatalog_Valid_Names(string json, int count)
        => Assert.Equal(count, RegistryClient.ParseCatalog(System.Text.Encoding.UTF8.GetBytes(json)).Count);

    [Theory]
    [InlineData("[]")]
    [InlineData("{\"repositories\":\"a\"}")]
    [InlineData("{\"repositories\":[\"Bad\"]}")]
    [InlineData("{\"repositories\":[1]}")]
    [InlineData("{")]
    public void ParseCatalog_Invalid_RegistryException(string json)
        => Assert.Throws<RegistryException>(() => RegistryClient.ParseCatalog(System.Text.Encoding.UTF8.GetBytes(json)));

    [Fact]
    public void ParseCatalog_MutatedPages_CleanErrorOrValidNames()
    {
        var random = new Random(1618);
        byte[] seed = System.Text.Encoding.UTF8.GetBytes("{\"repositories\":[\"team/app\",\"library/busybox\",\"a.b_c-d/e__f\"]}");
        for (int i = 0; i < 4000; i++)
        {
            byte[] input = i % 5 == 4 ? Accelerator.Testing.Fuzzing.FuzzInput.RandomBytes(random, 200) : Accelerator.Testing.Fuzzing.FuzzInput.Mutate(seed, random);
            try
            {
                foreach (string name in RegistryClient.ParseCatalog(input))
                {
                    RegistryClient.CheckRepository(name);
                }
            }
            catch (RegistryException)
            {
            }
        }
    }
}

using Accelerator.Block.Layers;
using Accelerator.Block.Tests.Support;
using Accelerator.Oci.Registry;
using Accelerator.Testing.Registry;

namespace Accelerator.Block.Tests.Issues;

/// <summary>
/// Issue 15, credentials that last, block images: a block stack fetching its blocks from a real token-auth registry
/// whose tokens are refused after 2 s although their <c>expires_in</c> promises 5 minutes (revoked, or expired early).
/// The fetches that meet the 401 get a new token; none fails and the disk reads exactly as the image.
/// </summary>
public sealed class Issue15_ExpiredTokenBlockFetchTests
{
    [Fact]
    public async Task ReadAsync_TokenRefusedMidRun_NoFailedFetchAndTheDiskReadsAsTheImage()
    {
        using var image = await BlockTestImage.CreateAsync(freeBytes: 0);
        await using var registries = await PrivateRegistries.StartAsync();
        string host = registries.Token.Host;
        foreach (var (_, path) in image.Build.Blobs)
        {
            byte[] bytes = await File.ReadAllBytesAsync(path);
            await registries.Client.PushBlobAsync(host, BlockTestImage.Repository, Descriptor.FromContent("application/octet-stream", bytes), new MemoryStream(bytes));
        }

        registries.TokenServer.RegistryAcceptsTokensFor = TimeSpan.FromSeconds(2);
        using var client = new RegistryClient(TestRegistryOptions.Create(o => o.DockerConfigPath = registries.AuthFile));
        int Grants() => registries.TokenServer.Requests.Count(r => r.Status == 200 && r.Granted.Contains($"repository:{BlockTestImage.Repository}:pull"));
        int before = Grants();
        string expected = image.HashRaw();

        // Three stacks with empty caches, one after another on the same client, each opened after the previous token was
        // refused: every pass fetches its blocks again and meets the 401.
        for (int pass = 0; pass < 3; pass++)
        {
            await using var stack = image.Open(client.GetStore(host).Blobs, new BlockStackOptions { CacheDirectory = Path.Combine(image.Root, $"cache-{pass}") });
            Assert.Equal(expected, await BlockTestImage.HashDiskAsync(stack));
            Assert.Equal(0, stack.Statistics.Errors);
            Assert.True(stack.Statistics.Requests > 0);
            await Task.Delay(TimeSpan.FromSeconds(2.5));
        }

        // Without dropping the refused token, the first one (5 minutes by its expires_in) would have served every fetch.
        Assert.True(Grants() - before >= 3, $"{Grants() - before} token(s)");
    }
}

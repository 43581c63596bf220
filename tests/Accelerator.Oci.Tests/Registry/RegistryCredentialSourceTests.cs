using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Accelerator.Oci.Registry;

namespace Accelerator.Oci.Tests.Registry;

/// <summary>
/// <see cref="RegistryOptions.CredentialSource"/> against real registries: credentials given per (registry, repository)
/// authorise exactly that repository, win over the configured host credentials, and never reach another repository or
/// registry.
/// </summary>
[Collection(RegistryCollection.Name)]
public sealed class RegistryCredentialSourceTests(RegistryFixture fixture)
{
    private string BasicHost => fixture.Htpasswd.Host;

    private string TokenHost => fixture.TokenProtected.Host;

    private static readonly RegistryCredentials Right = new(RegistryFixture.User, RegistryFixture.Password, null);

    private async Task<TestImage> PushAsync(string host, string repository, int seed)
    {
        var image = TestImage.Create(seed);
        using var pusher = new RegistryClient(RegistryFixture.Options(o => o.Hosts[host] = new RegistryHostOptions { Username = RegistryFixture.User, Password = RegistryFixture.Password }));
        await image.PushAsync(pusher, host, repository, "v1");
        return image;
    }

    [Fact]
    public async Task GetManifestAsync_BasicRegistryCredentialForRepository_PullsManifestAndBlobs()
    {
        var image = await PushAsync(BasicHost, "given/basic", 301);
        var source = new RecordingSource((BasicHost, "given/basic", Right));

        using var client = new RegistryClient(RegistryFixture.Options(o => o.CredentialSource = source));
        var manifest = await client.GetManifestAsync(BasicHost, "given/basic", "v1");
        var layer = image.Blobs.Last();
        byte[] bytes = await client.GetStore(BasicHost).Blobs.ReadAllBytesAsync(BlobAddress.For("given/basic", layer.Descriptor), 1 << 20);

        Assert.Equal(image.Manifest.Digest, manifest.Digest);
        Assert.Equal(layer.Bytes, bytes);
        Assert.All(source.Asked, a => Assert.Equal((BasicHost, "given/basic"), a));
    }

    [Fact]
    public async Task GetManifestAsync_CredentialGivenForAnotherRepository_IsNotSentAndFails()
    {
        await PushAsync(BasicHost, "given/other", 302);
        var source = new RecordingSource((BasicHost, "given/mine", Right));

        using var client = new RegistryClient(RegistryFixture.Options(o => o.CredentialSource = source));
        var error = await Assert.ThrowsAsync<RegistryException>(() => client.GetManifestAsync(BasicHost, "given/other", "v1"));

        Assert.Equal(HttpStatusCode.Unauthorized, error.StatusCode);
        Assert.Contains((BasicHost, "given/other"), source.Asked);
    }

    [Fact]
    public async Task GetManifestAsync_CredentialGivenForAnotherRegistry_IsNotSentAndFails()
    {
        await PushAsync(BasicHost, "given/elsewhere", 303);
        var source = new RecordingSource((fixture.Open.Host, "given/elsewhere", Right));

        using var client = new RegistryClient(RegistryFixture.Options(o => o.CredentialSource = source));
        var error = await Assert.ThrowsAsync<RegistryException>(() => client.GetManifestAsync(BasicHost, "given/elsewhere", "v1"));

        Assert.Equal(HttpStatusCode.Unauthorized, error.StatusCode);
    }

    [Fact]
    public async Task GetManifestAsync_GivenCredentialAndWrongHostPassword_GivenCredentialWins()
    {
        var image = await PushAsync(BasicHost, "given/first", 304);
        var source = new RecordingSource((BasicHost, "given/first", Right));

        using var client = new RegistryClient(RegistryFixture.Options(o =>
        {
            o.Hosts[BasicHost] = new RegistryHostOptions { Username = RegistryFixture.User, Password = "wrong" };
            o.CredentialSource = source;
        }));
        var manifest = await client.GetManifestAsync(BasicHost, "given/first", "v1");

        Assert.Equal(image.Manifest.Digest, manifest.Digest);
    }

    [Fact]
    public async Task GetManifestAsync_TokenRegistryCredentialForRepository_TokenServerSeesTheUser()
    {
        var image = await PushAsync(TokenHost, "given/token", 305);
        var source = new RecordingSource((TokenHost, "given/token", Right));

        using var client = new RegistryClient(RegistryFixture.Options(o => o.CredentialSource = source));
        var manifest = await client.GetManifestAsync(TokenHost, "given/token", "v1");

        Assert.Equal(image.Manifest.Digest, manifest.Digest);
        Assert.Contains(fixture.TokenServer.Requests, r => r.User == RegistryFixture.User && r.Scopes.SequenceEqual(["repository:given/token:pull"]));
    }

    [Fact]
    public async Task GetManifestAsync_RegistryToken_IsSentAsIsWithoutAskingTheTokenServer()
    {
        var image = await PushAsync(TokenHost, "given/bearer", 306);
        string token = await FetchTokenAsync("repository:given/bearer:pull");
        var source = new RecordingSource((TokenHost, "given/bearer", new RegistryCredentials(null, null, null) { RegistryToken = token }));
        int before = TokenRequests("repository:given/bearer:pull");

        using var client = new RegistryClient(RegistryFixture.Options(o => o.CredentialSource = source));
        var manifest = await client.GetManifestAsync(TokenHost, "given/bearer", "v1");

        Assert.Equal(image.Manifest.Digest, manifest.Digest);
        Assert.Equal(before, TokenRequests("repository:given/bearer:pull"));
    }

    [Fact]
    public void ToString_Credentials_NamesTheUserButNoSecret()
    {
        var credentials = new RegistryCredentials("someone", "pa55word", "refresh-token") { RegistryToken = "bearer-token" };

        string text = credentials.ToString();

        Assert.Contains("someone", text, StringComparison.Ordinal);
        Assert.DoesNotContain("pa55word", text, StringComparison.Ordinal);
        Assert.DoesNotContain("refresh-token", text, StringComparison.Ordinal);
        Assert.DoesNotContain("bearer-token", text, StringComparison.Ordinal);
    }

    private int TokenRequests(string scope) => fixture.TokenServer.Requests.Count(r => r.Scopes.Contains(scope));

    // What an image pull secret's registry_token holds: a token the token server issued for the repository.
    private async Task<string> FetchTokenAsync(string scope)
    {
        using var http = new HttpClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, $"{fixture.TokenServer.Realm}?service={Uri.EscapeDataString(fixture.TokenServer.Service)}&scope={Uri.EscapeDataString(scope)}");
        request.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{RegistryFixture.User}:{RegistryFixture.Password}")));
        using var response = await http.SendAsync(request);
        response.EnsureSuccessStatusCode();
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return json.RootElement.GetProperty("token").GetString()!;
    }

    private sealed class RecordingSource(params (string Registry, string Repository, RegistryCredentials Credentials)[] entries) : IRegistryCredentialSource
    {
        public ConcurrentQueue<(string Registry, string Repository)> Asked { get; } = new();

        public RegistryCredentials? Find(string registry, string repository)
        {
            Asked.Enqueue((registry, repository));
            return entries.FirstOrDefault(e => e.Registry == registry && e.Repository == repository).Credentials;
        }
    }
}

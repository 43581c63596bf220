using System.Net;
using System.Text;
using Accelerator.Oci.Registry;

namespace Accelerator.Oci.Tests.Registry;

/// <summary>Auth against real registries: <c>auth: token</c> with the tests' token server, and <c>auth: htpasswd</c>.</summary>
[Collection(RegistryCollection.Name)]
public sealed class RegistryAuthTests(RegistryFixture fixture)
{
    private string TokenHost => fixture.TokenProtected.Host;

    private string BasicHost => fixture.Htpasswd.Host;

    private RegistryOptions WithCredentials(string host, Action<RegistryOptions>? configure = null) => RegistryFixture.Options(o =>
    {
        o.Hosts[host] = new RegistryHostOptions { Username = RegistryFixture.User, Password = RegistryFixture.Password };
        configure?.Invoke(o);
    });

    [Fact]
    public async Task PingAsync_TokenRegistry_ReturnsBearerChallenge()
    {
        using var client = new RegistryClient(RegistryFixture.Options());
        var ping = await client.PingAsync(TokenHost);
        Assert.True(ping.RequiresAuth);
        var bearer = Assert.Single(ping.Challenges);
        Assert.True(bearer.IsBearer);
        Assert.Equal(fixture.TokenServer.Realm.ToString(), bearer.Realm);
        Assert.Equal(fixture.TokenServer.Service, bearer.Service);
    }

    [Fact]
    public async Task GetManifestAsync_TokenRegistryAnonymous_PullsWithAnonymousToken()
    {
        var image = TestImage.Create(201);
        using (var pusher = new RegistryClient(WithCredentials(TokenHost)))
        {
            await image.PushAsync(pusher, TokenHost, "token/pull", "v1");
        }

        using var client = new RegistryClient(RegistryFixture.Options());
        var manifest = await client.GetManifestAsync(TokenHost, "token/pull", "v1");
        Assert.Equal(image.Manifest.Digest, manifest.Digest);
        var layer = image.Blobs.Last();
        Assert.Equal(layer.Bytes, await client.GetStore(TokenHost).Blobs.ReadAllBytesAsync(BlobAddress.For("token/pull", layer.Descriptor), 1 << 20));

        var anonymous = fixture.TokenServer.Requests.Where(r => r.User is null && r.Scopes.Contains("repository:token/pull:pull")).ToList();
        Assert.NotEmpty(anonymous);
        Assert.All(anonymous, r => Assert.Equal(["repository:token/pull:pull"], r.Granted));
    }

    [Fact]
    public async Task GetManifestAsync_SameScopeTwice_ReusesCachedTokenUntilExpiry()
    {
        var image = TestImage.Create(202);
        using (var pusher = new RegistryClient(WithCredentials(TokenHost)))
        {
            await image.PushAsync(pusher, TokenHost, "token/cached", "v1");
        }

        var time = new ManualTime();
        using var client = new RegistryClient(RegistryFixture.Options(), time: time);
        int Count() => fixture.TokenServer.Requests.Count(r => r.Scopes.SequenceEqual(["repository:token/cached:pull"]));
        await client.GetManifestAsync(TokenHost, "token/cached", "v1");
        int afterFirst = Count();
        await client.GetManifestAsync(TokenHost, "token/cached", "v1");
        await client.HeadManifestAsync(TokenHost, "token/cached", "v1");
        Assert.Equal(afterFirst, Count());

        time.Advance(fixture.TokenServer.TokenLifetime);
        await client.GetManifestAsync(TokenHost, "token/cached", "v1");
        Assert.Equal(afterFirst + 1, Count());
    }

    [Fact]
    public async Task DownloadBlobsAsync_TokenRegistryInParallel_FetchesOneTokenAndVerifiesEach()
    {
        var image = TestImage.Create(208, false, 3000, 4000, 5000, 6000);
        using (var pusher = new RegistryClient(WithCredentials(TokenHost)))
        {
            await image.PushAsync(pusher, TokenHost, "token/parallel", "v1");
        }

        using var client = new RegistryClient(RegistryFixture.Options(o => o.MaxParallelDownloads = 4));
        var received = new System.Collections.Concurrent.ConcurrentDictionary<Digest, byte[]>();
        await client.DownloadBlobsAsync(TokenHost, "token/parallel", image.Blobs.Select(b => b.Descriptor), async (blob, stream, token) =>
        {
            var copy = new MemoryStream();
            await stream.CopyToAsync(copy, token);
            received[blob.Digest] = copy.ToArray();
        });
        Assert.Equal(image.Blobs.Count(), received.Count);
        Assert.All(image.Blobs, b => Assert.Equal(b.Bytes, received[b.Descriptor.Digest]));
        Assert.Single(fixture.TokenServer.Requests, r => r.Scopes.SequenceEqual(["repository:token/parallel:pull"]) && r.User is null);
    }

    [Fact]
    public async Task PushAsync_TokenRegistryWithoutCredentials_FailsClearly()
    {
        using var client = new RegistryClient(RegistryFixture.Options());
        var image = TestImage.Create(203);
        var error = await Assert.ThrowsAsync<RegistryException>(() => image.PushAsync(client, TokenHost, "token/denied", "v1"));
        Assert.Equal(HttpStatusCode.Unauthorized, error.StatusCode);
        Assert.Equal("UNAUTHORIZED", error.ErrorCode);
        Assert.Contains("no credentials are configured for " + TokenHost, error.Message);
    }

    [Fact]
    public async Task PushAsync_TokenRegistryWithCredentials_PushesWithPushToken()
    {
        using var client = new RegistryClient(WithCredentials(TokenHost));
        var image = TestImage.Create(204);
        await image.PushAsync(client, TokenHost, "token/pushed", "v1");
        Assert.Equal(image.Manifest.Descriptor, await client.HeadManifestAsync(TokenHost, "token/pushed", "v1"));
        Assert.Contains(fixture.TokenServer.Requests, r => r.User == RegistryFixture.User && r.Granted.Contains("repository:token/pushed:pull,push"));
    }

    [Fact]
    public async Task PushAsync_TokenRegistryWrongPassword_FailsAtTokenServer()
    {
        using var client = new RegistryClient(RegistryFixture.Options(o => o.Hosts[TokenHost] = new RegistryHostOptions { Username = RegistryFixture.User, Password = "wrong" }));
        var error = await Assert.ThrowsAsync<RegistryException>(() => TestImage.Create(205).PushAsync(client, TokenHost, "token/wrong", "v1"));
        Assert.Equal(HttpStatusCode.Unauthorized, error.StatusCode);
        Assert.Contains("Token server", error.Message);
        Assert.Contains("check the credentials for " + TokenHost, error.Message);
    }

    [Fact]
    public async Task PushAsync_TokenRegistryIdentityToken_ExchangesRefreshToken()
    {
        using var client = new RegistryClient(RegistryFixture.Options(o => o.Hosts[TokenHost] = new RegistryHostOptions { IdentityToken = RegistryFixture.Password }));
        var image = TestImage.Create(206);
        await image.PushAsync(client, TokenHost, "token/identity", "v1");
        Assert.Equal(image.Manifest.Digest, (await client.GetManifestAsync(TokenHost, "token/identity", "v1")).Digest);
    }

    [Fact]
    public async Task MountBlobAsync_TokenRegistry_AsksForBothScopes()
    {
        using var client = new RegistryClient(WithCredentials(TokenHost));
        var image = TestImage.Create(207);
        await image.PushAsync(client, TokenHost, "token/mount-from", "v1");
        var layer = image.Blobs.Last().Descriptor;
        Assert.True(await client.MountBlobAsync(TokenHost, "token/mount-to", layer.Digest, "token/mount-from"));
        Assert.Equal(layer.Size, await client.HeadBlobAsync(TokenHost, "token/mount-to", layer.Digest));
        Assert.Contains(fixture.TokenServer.Requests, r => r.Granted.Contains("repository:token/mount-to:pull,push") && r.Granted.Contains("repository:token/mount-from:pull"));
    }

    [Fact]
    public async Task PingAsync_HtpasswdRegistry_ReturnsBasicChallenge()
    {
        using var client = new RegistryClient(RegistryFixture.Options());
        var ping = await client.PingAsync(BasicHost);
        Assert.True(ping.RequiresAuth);
        Assert.True(Assert.Single(ping.Challenges).IsBasic);
    }

    [Fact]
    public async Task PushAsync_HtpasswdRegistryWithHostCredentials_RoundTrips()
    {
        using var client = new RegistryClient(WithCredentials(BasicHost));
        var image = TestImage.Create(211);
        await image.PushAsync(client, BasicHost, "basic/app", "v1");
        Assert.Equal(image.Manifest.Digest, (await client.GetManifestAsync(BasicHost, "basic/app", "v1")).Digest);
    }

    [Theory]
    [InlineData("auth")]
    [InlineData("username")]
    public async Task PushAsync_HtpasswdRegistryWithDockerConfig_UsesItsCredentials(string form)
    {
        string dir = Directory.CreateTempSubdirectory("accel-docker-config-").FullName;
        try
        {
            string path = Path.Combine(dir, "config.json");
            string auth = Convert.ToBase64String(Encoding.UTF8.GetBytes($"{RegistryFixture.User}:{RegistryFixture.Password}"));
            string entry = form == "auth"
                ? $$"""{"auth":"{{auth}}"}"""
                : $$"""{"username":"{{RegistryFixture.User}}","password":"{{RegistryFixture.Password}}"}""";
            await File.WriteAllTextAsync(path, "{\"auths\":{\"https://other.example\":{\"auth\":\"eDp5\"},\"http://" + BasicHost + "\":" + entry + "}}");
            using var client = new RegistryClient(RegistryFixture.Options(o => o.DockerConfigPath = path));
            var image = TestImage.Create(form == "auth" ? 212 : 213);
            await image.PushAsync(client, BasicHost, "basic/config-" + form, "v1");
            Assert.Equal(image.Manifest.Digest, (await client.GetManifestAsync(BasicHost, "basic/config-" + form, "v1")).Digest);
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [Fact]
    public async Task GetManifestAsync_HtpasswdRegistryWithoutCredentials_FailsClearly()
    {
        using var client = new RegistryClient(RegistryFixture.Options());
        var error = await Assert.ThrowsAsync<RegistryException>(() => client.GetManifestAsync(BasicHost, "basic/app", "v1"));
        Assert.Equal(HttpStatusCode.Unauthorized, error.StatusCode);
        Assert.Contains("no credentials are configured for " + BasicHost, error.Message);
    }

    [Theory]
    [InlineData("credHelpers")]
    [InlineData("credsStore")]
    public async Task GetManifestAsync_CredentialsOnlyInACredentialHelper_ErrorNamesTheConfigAndTheHelper(string form)
    {
        // docker login with a credential store leaves only the helper's name in config.json; this one is not installed.
        string dir = Directory.CreateTempSubdirectory("accel-docker-config-").FullName;
        try
        {
            string path = Path.Combine(dir, "config.json");
            await File.WriteAllTextAsync(path, form == "credsStore"
                ? """{"auths":{},"credsStore":"desktop"}"""
                : "{\"credHelpers\":{\"other.example\":\"gcloud\",\"" + BasicHost + "\":\"desktop\"}}");
            using var client = new RegistryClient(RegistryFixture.Options(o => o.DockerConfigPath = path));

            var error = await Assert.ThrowsAsync<RegistryException>(() => client.GetManifestAsync(BasicHost, "basic/app", "v1"));

            Assert.Equal(HttpStatusCode.Unauthorized, error.StatusCode);
            Assert.Contains($"no credentials are configured for {BasicHost}", error.Message);
            Assert.Contains(path, error.Message);
            Assert.Contains("credential helper docker-credential-desktop gave none", error.Message);
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [Fact]
    public async Task GetManifestAsync_HtpasswdRegistryWrongPassword_Fails()
    {
        using var client = new RegistryClient(RegistryFixture.Options(o => o.Hosts[BasicHost] = new RegistryHostOptions { Username = RegistryFixture.User, Password = "nope" }));
        var error = await Assert.ThrowsAsync<RegistryException>(() => client.GetManifestAsync(BasicHost, "basic/app", "v1"));
        Assert.Equal(HttpStatusCode.Unauthorized, error.StatusCode);
        Assert.Contains("check the credentials", error.Message);
    }

    /// <summary>A clock the test moves by hand (timers stay real).</summary>
    private sealed class ManualTime : TimeProvider
    {
        private DateTimeOffset _now = DateTimeOffset.UtcNow;

        public void Advance(TimeSpan by) => _now += by;

        public override DateTimeOffset GetUtcNow() => _now;
    }
}

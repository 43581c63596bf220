using System.Text;
using Accelerator.Containerd.Api.Cri;
using Accelerator.Snapshotter.Cri;

namespace Accelerator.Snapshotter.Tests.Cri;

public sealed class CriAuthTests
{
    private const string Registry = "registry.example.com:5000";

    [Fact]
    public void Parse_UsernameAndPassword_GivesThem()
    {
        var credentials = CriAuth.Parse(new AuthConfig { Username = "u", Password = "p" }, Registry);

        Assert.NotNull(credentials);
        Assert.Equal(("u", "p"), (credentials.Username, credentials.Password));
    }

    [Fact]
    public void Parse_DockerAuthField_DecodesUserAndPasswordWithColons()
    {
        string auth = Convert.ToBase64String(Encoding.UTF8.GetBytes("user:pa:ss"));

        var credentials = CriAuth.Parse(new AuthConfig { Auth = auth }, Registry);

        Assert.NotNull(credentials);
        Assert.Equal(("user", "pa:ss"), (credentials.Username, credentials.Password));
    }

    [Theory]
    [InlineData("not base64!")]
    [InlineData("bm9jb2xvbg==")]
    public void Parse_InvalidAuthField_Throws(string auth)
        => Assert.Throws<FormatException>(() => CriAuth.Parse(new AuthConfig { Auth = auth }, Registry));

    [Fact]
    public void Parse_IdentityAndRegistryTokens_KeepsThem()
    {
        var identity = CriAuth.Parse(new AuthConfig { IdentityToken = "refresh" }, Registry);
        var bearer = CriAuth.Parse(new AuthConfig { RegistryToken = "eyJ.abc.def" }, Registry);

        Assert.Equal("refresh", identity?.IdentityToken);
        Assert.Equal("eyJ.abc.def", bearer?.RegistryToken);
    }

    [Theory]
    [InlineData("https://registry.example.com:5000", true)]
    [InlineData("http://registry.example.com:5000/v2/", true)]
    [InlineData("https://REGISTRY.example.com:5000", true)]
    [InlineData("https://registry.example.com", false)]
    [InlineData("https://other.example.com:5000", false)]
    [InlineData("registry.example.com:5000", false)]
    public void Parse_ServerAddress_MatchesOnlyTheImagesRegistry(string serverAddress, bool given)
    {
        var credentials = CriAuth.Parse(new AuthConfig { Username = "u", Password = "p", ServerAddress = serverAddress }, Registry);

        Assert.Equal(given, credentials is not null);
    }

    [Fact]
    public void Parse_DockerHubServerAddress_MatchesDockerIo()
        => Assert.NotNull(CriAuth.Parse(new AuthConfig { Username = "u", Password = "p", ServerAddress = "https://index.docker.io/v1/" }, "docker.io"));

    [Fact]
    public void Parse_Nothing_GivesNull()
    {
        Assert.Null(CriAuth.Parse(null, Registry));
        Assert.Null(CriAuth.Parse(new AuthConfig(), Registry));
    }

    [Fact]
    public void Parse_OversizedField_Throws()
        => Assert.Throws<FormatException>(() => CriAuth.Parse(new AuthConfig { Username = "u", Password = new string('x', CriAuth.MaxFieldLength + 1) }, Registry));

    [Fact]
    public void Parse_RegistryTokenWithLineBreak_Throws()
        => Assert.Throws<FormatException>(() => CriAuth.Parse(new AuthConfig { RegistryToken = "abc\r\nX-Injected: 1" }, Registry));
}

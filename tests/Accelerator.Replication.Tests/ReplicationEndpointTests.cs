using Accelerator.Replication;

namespace Accelerator.Replication.Tests;

public sealed class ReplicationEndpointTests
{
    [Theory]
    [InlineData("127.0.0.1:5000", "127.0.0.1:5000", "")]
    [InlineData("registry.internal", "registry.internal", "")]
    [InlineData("localhost:5000/team", "localhost:5000", "team")]
    [InlineData("reg.example.com:443/team/sub/", "reg.example.com:443", "team/sub")]
    public void Parse_Valid_SplitsHostAndPrefix(string text, string registry, string prefix)
    {
        var endpoint = ReplicationEndpoint.Parse(text);

        Assert.Equal(registry, endpoint.Registry);
        Assert.Equal(prefix, endpoint.Prefix);
    }

    [Theory]
    [InlineData("")]
    [InlineData("http://127.0.0.1:5000")]
    [InlineData("justaname")]
    [InlineData("host:5000/Team")]
    [InlineData("host:5000/a//b")]
    [InlineData("bad host:5000")]
    public void Parse_Invalid_FormatException(string text)
        => Assert.Throws<FormatException>(() => ReplicationEndpoint.Parse(text));

    [Fact]
    public void Contains_Prefix_SelectsItselfAndBelowOnly()
    {
        var source = ReplicationEndpoint.Parse("r:1/team");

        Assert.True(source.Contains("team"));
        Assert.True(source.Contains("team/app"));
        Assert.False(source.Contains("teamwork"));
        Assert.False(source.Contains("other/team"));
        Assert.True(ReplicationEndpoint.Parse("r:1").Contains("anything/at/all"));
    }

    [Fact]
    public void MapToTarget_Prefix_PrependedAndReversible()
    {
        var target = ReplicationEndpoint.Parse("r:1/mirror");

        Assert.Equal("mirror/team/app", target.MapToTarget("team/app"));
        Assert.Equal("team/app", target.MapFromTarget("mirror/team/app"));
        Assert.Null(target.MapFromTarget("mirrors/x"));
        Assert.Null(target.MapFromTarget("mirror"));
        Assert.Equal("team/app", ReplicationEndpoint.Parse("r:1").MapToTarget("team/app"));
    }
}

using System.Text;
using Accelerator.P2P.Proxy;
using Accelerator.Testing.Fuzzing;

namespace Accelerator.P2P.Tests.Proxy;

public sealed class ProxyParserTests
{
    private const string Digest = "sha256:2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae";

    [Theory]
    [InlineData("/v2/", 0, "", "")]
    [InlineData("/v2", 0, "", "")]
    [InlineData("/v2/library/busybox/manifests/latest", 1, "library/busybox", "latest")]
    [InlineData("/v2/a/manifests/x/manifests/v1.0_rc-2", 1, "a/manifests/x", "v1.0_rc-2")]
    [InlineData("/v2/my-org/my__app.x/blobs/" + Digest, 2, "my-org/my__app.x", Digest)]
    [InlineData("/v2/a/blobs/b/manifests/" + Digest, 1, "a/blobs/b", Digest)]
    public void TryParse_ValidPath_Parsed(string path, int kind, string repository, string reference)
    {
        Assert.True(ProxyRequestPath.TryParse(path, out var parsed));
        Assert.Equal(new ProxyRequestPath((ProxyRequestKind)kind, repository, reference), parsed);
    }

    [Theory]
    [InlineData("Basic cmVhZGVyOnBhc3M6d2l0aDpjb2xvbnM=", "reader", "pass:with:colons", null)]
    [InlineData("Bearer eyJhbGciOi.x.y", null, null, "Bearer eyJhbGciOi.x.y")]
    [InlineData("Basic not-base64!", null, null, "Basic not-base64!")]
    [InlineData("", null, null, null)]
    public void ClientCredential_AuthorizationHeader_BasicAsUserElseAsIs(string header, string? user, string? password, string? authorization)
    {
        var context = new Microsoft.AspNetCore.Http.DefaultHttpContext();
        if (header.Length > 0)
        {
            context.Request.Headers.Authorization = header;
        }

        var credential = RegistryMirrorProxy.ClientCredential(context.Request);

        Assert.Equal((user, password, authorization), (credential?.Username, credential?.Password, credential?.Authorization));
    }

    [Theory]
    [InlineData("/")]
    [InlineData("/v2/_catalog")]
    [InlineData("/v2/Upper/manifests/latest")]
    [InlineData("/v2/a//b/manifests/latest")]
    [InlineData("/v2/a/manifests/")]
    [InlineData("/v2/a/manifests/-tag")]
    [InlineData("/v2/a/blobs/latest")]
    [InlineData("/v2/a/blobs/sha256:abc")]
    [InlineData("/v2/../etc/manifests/latest")]
    [InlineData("/v2/a./manifests/latest")]
    [InlineData("/v2/a..b/manifests/latest")]
    [InlineData("/v2/a/tags/list")]
    [InlineData("/v2/a/blobs/uploads/")]
    public void TryParse_InvalidPath_False(string path)
    {
        Assert.False(ProxyRequestPath.TryParse(path, out _));
    }

    [Fact]
    public void TryParse_NameOverLimit_False()
    {
        Assert.False(ProxyRequestPath.TryParse("/v2/" + new string('a', 256) + "/manifests/latest", out _));
        Assert.True(ProxyRequestPath.TryParse("/v2/" + new string('a', 255) + "/manifests/latest", out _));
    }

    [Theory]
    [InlineData("bytes=0-99", 0L, 99L)]
    [InlineData("bytes=5-", 5L, null)]
    [InlineData("bytes=-7", null, 7L)]
    [InlineData(" bytes=1-2 ", 1L, 2L)]
    public void TryParse_SingleRange_Parsed(string header, long? first, long? last)
    {
        Assert.True(ByteRange.TryParse(header, out var range));
        Assert.Equal(new ByteRange(first, last), range);
    }

    [Theory]
    [InlineData("")]
    [InlineData("bytes=")]
    [InlineData("bytes=-")]
    [InlineData("bytes=5-1")]
    [InlineData("bytes=0-1,3-4")]
    [InlineData("items=0-1")]
    [InlineData("bytes=+1-2")]
    [InlineData("bytes=1-2-3")]
    [InlineData("bytes=99999999999999999999-")]
    public void TryParse_NotOneByteRange_False(string header)
    {
        Assert.False(ByteRange.TryParse(header, out _));
    }

    [Theory]
    [InlineData(0L, 9L, 100L, true, 0L, 10L)]
    [InlineData(95L, 200L, 100L, true, 95L, 5L)]
    [InlineData(100L, null, 100L, false, 0L, 0L)]
    [InlineData(null, 500L, 100L, true, 0L, 100L)]
    [InlineData(null, 0L, 100L, false, 0L, 0L)]
    [InlineData(0L, null, 0L, false, 0L, 0L)]
    public void TryResolve_AgainstSize_OffsetAndLength(long? first, long? last, long size, bool satisfiable, long offset, long length)
    {
        Assert.Equal(satisfiable, new ByteRange(first, last).TryResolve(size, out long o, out long l));
        Assert.Equal((offset, length), (o, l));
    }

    [Fact]
    public void Parsers_RandomAndMutatedInput_CleanResultOrFalse()
    {
        var random = new Random(42);
        string[] seeds = ["/v2/library/busybox/manifests/latest", "/v2/a/blobs/" + Digest, "bytes=0-99", "bytes=-7"];
        for (int i = 0; i < 20_000; i++)
        {
            byte[] bytes = i % 2 == 0
                ? FuzzInput.RandomBytes(random, 300)
                : FuzzInput.Mutate(Encoding.UTF8.GetBytes(seeds[random.Next(seeds.Length)]), random);
            string text = Encoding.UTF8.GetString(bytes);
            if (ProxyRequestPath.TryParse(text, out var path) && path.Kind != ProxyRequestKind.Ping)
            {
                Assert.True(ProxyRequestPath.IsValidName(path.Repository));
                Assert.True(path.Repository.Length <= ProxyRequestPath.MaxNameLength);
                Assert.DoesNotContain("..", path.Repository, StringComparison.Ordinal);
            }

            if (ByteRange.TryParse(text, out var range) && range.TryResolve(1000, out long offset, out long length))
            {
                Assert.InRange(offset, 0, 999);
                Assert.InRange(length, 1, 1000 - offset);
            }
        }
    }
}

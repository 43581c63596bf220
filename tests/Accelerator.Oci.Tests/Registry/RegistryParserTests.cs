using System.Text;
using Accelerator.Oci.Registry;
using Microsoft.Extensions.Options;

namespace Accelerator.Oci.Tests.Registry;

/// <summary>The registry client's bounded parsers: known inputs, then random and mutated ones (clean error or result).</summary>
public sealed class RegistryParserTests
{
    private const int FuzzIterations = 3000;

    [Fact]
    public void Parse_BearerWithQuotedParams_ReadsAll()
    {
        var challenge = Assert.Single(AuthChallenge.Parse("""Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push repository:c:pull",error="insufficient_scope" """));
        Assert.True(challenge.IsBearer);
        Assert.Equal("https://auth.example/token", challenge.Realm);
        Assert.Equal("registry.example", challenge.Service);
        Assert.Equal("repository:a/b:pull,push repository:c:pull", challenge.Scope);
        Assert.Equal("insufficient_scope", challenge.Error);
    }

    [Fact]
    public void Parse_EscapesTokensAndSeveralChallenges_ReadsEach()
    {
        var challenges = AuthChallenge.Parse("""Basic realm="a \"quoted\" \\ realm", charset=UTF-8, Bearer realm="https://x/t" , Negotiate abc123==, NTLM""");
        Assert.Equal(4, challenges.Count);
        Assert.Equal("a \"quoted\" \\ realm", challenges[0].Realm);
        Assert.Equal("UTF-8", challenges[0].Parameters["CHARSET"]);
        Assert.True(challenges[1].IsBearer);
        Assert.Equal("https://x/t", challenges[1].Realm);
        Assert.Equal("abc123==", challenges[2].Token68);
        Assert.Equal("NTLM", challenges[3].Scheme);
        Assert.Empty(challenges[3].Parameters);
    }

    [Theory]
    [InlineData("")]
    [InlineData("Bearer realm=\"unterminated")]
    [InlineData("Bearer realm=\"a\" service")]
    [InlineData("Bearer realm=a, realm=b")]
    [InlineData("=x")]
    [InlineData("Bearer realm=\"a\u0001\"")]
    [InlineData("Bearer realm=\"a\" ;")]
    public void Parse_Malformed_ThrowsFormatException(string header)
        => Assert.Throws<FormatException>(() => AuthChallenge.Parse(header));

    [Fact]
    public void Parse_TooLongOrTooMany_ThrowsFormatException()
    {
        Assert.Throws<FormatException>(() => AuthChallenge.Parse("Bearer realm=\"" + new string('a', AuthChallenge.MaxHeaderLength) + "\""));
        Assert.Throws<FormatException>(() => AuthChallenge.Parse(string.Join(", ", Enumerable.Range(0, 40).Select(i => $"p{i}=v")).Insert(0, "Bearer ")));
        Assert.Throws<FormatException>(() => AuthChallenge.Parse(string.Join(", ", Enumerable.Range(0, 20).Select(i => $"S{i}"))));
    }

    [Fact]
    public void Parse_RandomAndMutatedInput_CleanErrorOrResult()
    {
        var random = new Random(1234);
        string[] seeds =
        [
            """Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a:pull" """,
            """Basic realm="x \"y\"", Bearer realm=z""",
            "Negotiate abc==, Basic realm=r",
        ];
        const string alphabet = "Bearer Basic realm=\",\\ =abc\t;:/xyz\u0000\u00e9";
        for (int i = 0; i < FuzzIterations; i++)
        {
            string input = i % 2 == 0 ? Mutate(seeds[i % seeds.Length], random) : RandomString(random, alphabet, random.Next(0, 200));
            try
            {
                var challenges = AuthChallenge.Parse(input);
                Assert.NotEmpty(challenges);
                Assert.All(challenges, c => Assert.False(string.IsNullOrEmpty(c.Scheme)));
                // What parses once parses again from its own rendering.
                Assert.Equal(challenges.Count, AuthChallenge.Parse(string.Join(", ", challenges.Select(c => c.ToString()))).Count);
            }
            catch (FormatException)
            {
            }
        }
    }

    [Theory]
    [InlineData("</v2/a/tags/list?n=2&last=b>; rel=\"next\"", "/v2/a/tags/list?n=2&last=b")]
    [InlineData("<https://r.example/v2/a/tags/list?last=b>;rel=next", "https://r.example/v2/a/tags/list?last=b")]
    [InlineData("</prev>; rel=\"prev\", </next>; title=\"x,y\"; rel=\"last next\"", "/next")]
    public void TryGetNext_Links_FindsNext(string header, string expected)
    {
        Assert.True(LinkHeader.TryGetNext(header, out string? target));
        Assert.Equal(expected, target);
    }

    [Theory]
    [InlineData("")]
    [InlineData("</a>; rel=\"prev\"")]
    public void TryGetNext_NoNext_ReturnsFalse(string header) => Assert.False(LinkHeader.TryGetNext(header, out _));

    [Theory]
    [InlineData("/a; rel=next")]
    [InlineData("</a; rel=next")]
    [InlineData("</a> rel=next")]
    [InlineData("</a>; rel=\"next")]
    [InlineData("<>; rel=next")]
    public void TryGetNext_Malformed_ThrowsFormatException(string header)
        => Assert.Throws<FormatException>(() => LinkHeader.TryGetNext(header, out _));

    [Fact]
    public void TryGetNext_RandomAndMutatedInput_CleanErrorOrResult()
    {
        var random = new Random(99);
        const string seed = "</v2/a/tags/list?n=2&last=b>; rel=\"next\", </x>; rel=prev";
        for (int i = 0; i < FuzzIterations; i++)
        {
            string input = i % 2 == 0 ? Mutate(seed, random) : RandomString(random, "<>;,= \"relnext/a", random.Next(0, 120));
            try
            {
                if (LinkHeader.TryGetNext(input, out string? target))
                {
                    Assert.False(string.IsNullOrEmpty(target));
                }
            }
            catch (FormatException)
            {
            }
        }

        Assert.Throws<FormatException>(() => LinkHeader.TryGetNext(new string(' ', LinkHeader.MaxLength + 1), out _));
    }

    [Fact]
    public void DockerConfigParse_KeyFormsAndEncodings_FindsEachHost()
    {
        string auth = Convert.ToBase64String(Encoding.UTF8.GetBytes("hubuser:hub:pass"));
        string json = $$"""
            {
              "auths": {
                "https://index.docker.io/v1/": { "auth": "{{auth}}" },
                "registry.example:5000": { "username": "u2", "password": "p2" },
                "https://other.example/v2/": { "identitytoken": "refresh-me" },
                "http://plain.example": { "auth": "{{Convert.ToBase64String("u4:p4"u8)}}" },
                "empty.example": { }
              },
              "credsStore": "desktop"
            }
            """;
        var credentials = DockerConfigCredentials.Parse(Encoding.UTF8.GetBytes(json));
        Assert.Equal(("hubuser", "hub:pass"), (credentials["docker.io"].Username, credentials["docker.io"].Password));
        Assert.Equal("p2", credentials["registry.example:5000"].Password);
        Assert.Equal("refresh-me", credentials["other.example"].IdentityToken);
        Assert.Equal("u4", credentials["plain.example"].Username);
        Assert.False(credentials.ContainsKey("empty.example"));
        Assert.DoesNotContain("hub:pass", credentials["docker.io"].ToString());
    }

    [Theory]
    [InlineData("[]")]
    [InlineData("{\"auths\":{\"h\":{\"auth\":\"not base64!\"}}}")]
    [InlineData("{\"auths\":{\"h\":{\"auth\":\"bm9jb2xvbg==\"}}}")]
    [InlineData("{\"auths\":")]
    public void DockerConfigParse_Malformed_ThrowsFormatException(string json)
        => Assert.Throws<FormatException>(() => DockerConfigCredentials.Parse(Encoding.UTF8.GetBytes(json)));

    [Theory]
    [InlineData("""{"ServerURL":"r:5000","Username":"ci","Secret":"pw"}""", "ci", "pw", null)]
    [InlineData("""{"ServerURL":"r:5000","Username":"<token>","Secret":"refresh"}""", "<token>", null, "refresh")]
    [InlineData("""{"Username":"ci"}""", null, null, null)]
    [InlineData("""["ci","pw"]""", null, null, null)]
    [InlineData("credentials not found in native keychain", null, null, null)]
    public void CredentialHelperParse_Answers_CredentialsOrNull(string answer, string? user, string? password, string? identity)
    {
        var credentials = DockerCredentialHelper.Parse(answer);

        Assert.Equal(user, credentials?.Username);
        Assert.Equal(password, credentials?.Password);
        Assert.Equal(identity, credentials?.IdentityToken);
    }

    [Theory]
    [InlineData("desktop", true)]
    [InlineData("ecr-login", true)]
    [InlineData("pass.v2", true)]
    [InlineData("../../tmp/evil", false)]
    [InlineData("/usr/bin/evil", false)]
    [InlineData(".hidden", false)]
    [InlineData("", false)]
    [InlineData("a b", false)]
    public void CredentialHelperIsValidName_NameOrPath_OnlyPlainNames(string name, bool valid)
        => Assert.Equal(valid, DockerCredentialHelper.IsValidName(name));

    [Fact]
    public void DockerConfigLoad_MissingFile_NoCredentials()
        => Assert.Empty(DockerConfigCredentials.Load("/nonexistent/accelerator/config.json"));

    [Fact]
    public void ResponseParsers_RandomAndMutatedInput_CleanErrorOrResult()
    {
        var random = new Random(7);
        byte[][] seeds =
        [
            """{"auths":{"https://h.example":{"auth":"dTpw"},"x":{"username":"a","password":"b","identitytoken":"t"}}}"""u8.ToArray(),
            """{"errors":[{"code":"UNAUTHORIZED","message":"authentication required","detail":[{"Type":"repository"}]}]}"""u8.ToArray(),
            """{"token":"abc.def.ghi","access_token":"abc","expires_in":300,"issued_at":"2024-01-01T00:00:00Z"}"""u8.ToArray(),
            """{"name":"a/b","tags":["v1","latest"]}"""u8.ToArray(),
        ];
        for (int i = 0; i < FuzzIterations; i++)
        {
            byte[] input = i % 3 == 0 ? RandomBytes(random) : MutateBytes(seeds[random.Next(seeds.Length)], random);
            Try<FormatException>(() => DockerConfigCredentials.Parse(input));
            var (code, summary) = RegistryException.ParseErrors(input);
            Assert.True(summary is null || summary.Length < 4000);
            Try<RegistryException>(() => RegistryClient.ParseTokenResponse(input));
            Try<RegistryException>(() => RegistryClient.ParseTagList(input));
        }
    }

    [Fact]
    public void ParseErrors_RegistryErrorBody_OneLineSummary()
    {
        var (code, summary) = RegistryException.ParseErrors("""{"errors":[{"code":"DENIED","message":"requested access\nis denied"},{"code":"X"}]}"""u8);
        Assert.Equal("DENIED", code);
        Assert.Equal("DENIED: requested access is denied; X", summary);
        Assert.Equal((null, null), RegistryException.ParseErrors("<html>"u8));
    }

    [Fact]
    public void ParseTokenResponse_Fields_ShortLifetimeHonouredAbsentIsSixtySeconds()
    {
        var (token, lifetime, issued) = RegistryClient.ParseTokenResponse("""{"access_token":"tok","expires_in":5,"issued_at":"2024-01-01T00:00:00Z"}"""u8);
        Assert.Equal("tok", token);
        Assert.Equal(TimeSpan.FromSeconds(5), lifetime);
        Assert.Equal(TimeSpan.FromSeconds(60), RegistryClient.ParseTokenResponse("""{"token":"t"}"""u8).Lifetime);
        Assert.Equal(TimeSpan.FromSeconds(60), RegistryClient.ParseTokenResponse("""{"token":"t","expires_in":0}"""u8).Lifetime);
        Assert.Equal(new DateTimeOffset(2024, 1, 1, 0, 0, 0, TimeSpan.Zero), issued);
        Assert.Throws<RegistryException>(() => RegistryClient.ParseTokenResponse("""{"token":"has space"}"""u8));
    }

    [Fact]
    public void RegistryClient_InvalidOptions_ThrowsOptionsValidationException()
    {
        Assert.Throws<OptionsValidationException>(() => new RegistryClient(new RegistryOptions { MaxManifestBytes = 5 * 1024 * 1024 }));
        Assert.Throws<OptionsValidationException>(() => new RegistryClient(new RegistryOptions { MaxParallelDownloads = 0 }));
        var badHost = new RegistryOptions();
        badHost.Hosts["https://x.example/"] = new RegistryHostOptions();
        Assert.Throws<OptionsValidationException>(() => new RegistryClient(badHost));
        var halfCredentials = new RegistryOptions();
        halfCredentials.Hosts["x.example:5000"] = new RegistryHostOptions { Username = "u" };
        Assert.Throws<OptionsValidationException>(() => new RegistryClient(halfCredentials));
        using var ok = new RegistryClient(new RegistryOptions());
    }

    private static void Try<TException>(Action action)
        where TException : Exception
    {
        try
        {
            action();
        }
        catch (TException)
        {
        }
    }

    private static string Mutate(string seed, Random random)
    {
        var chars = seed.ToCharArray().ToList();
        int edits = random.Next(1, 6);
        for (int e = 0; e < edits && chars.Count > 0; e++)
        {
            int at = random.Next(chars.Count);
            switch (random.Next(3))
            {
                case 0: chars.RemoveAt(at); break;
                case 1: chars.Insert(at, (char)random.Next(0, 128)); break;
                default: chars[at] = (char)random.Next(0, 128); break;
            }
        }

        return new string(chars.ToArray());
    }

    private static string RandomString(Random random, string alphabet, int length)
        => new(Enumerable.Range(0, length).Select(_ => alphabet[random.Next(alphabet.Length)]).ToArray());

    private static byte[] RandomBytes(Random random)
    {
        byte[] bytes = new byte[random.Next(0, 300)];
        random.NextBytes(bytes);
        return bytes;
    }

    private static byte[] MutateBytes(byte[] seed, Random random)
    {
        var bytes = seed.ToList();
        for (int e = random.Next(1, 5); e > 0 && bytes.Count > 0; e--)
        {
            int at = random.Next(bytes.Count);
            switch (random.Next(3))
            {
                case 0: bytes.RemoveAt(at); break;
                case 1: bytes.Insert(at, (byte)random.Next(256)); break;
                default: bytes[at] = (byte)random.Next(256); break;
            }
        }

        return bytes.ToArray();
    }
}

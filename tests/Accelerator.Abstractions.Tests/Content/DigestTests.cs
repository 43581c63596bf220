using System.Text;

namespace Accelerator.Abstractions.Tests.Content;

public sealed class DigestTests
{
    private const string Sha256Hex = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    private const string Sha512Hex = "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e";

    [Theory]
    [InlineData("sha256:" + Sha256Hex, "sha256", Sha256Hex)]
    [InlineData("sha512:" + Sha512Hex, "sha512", Sha512Hex)]
    [InlineData("sha256:0000000000000000000000000000000000000000000000000000000000000000", "sha256", "0000000000000000000000000000000000000000000000000000000000000000")]
    public void Parse_Valid_SplitsAlgorithmAndEncoded(string value, string algorithm, string encoded)
    {
        var digest = Digest.Parse(value);
        Assert.Equal(algorithm, digest.Algorithm);
        Assert.Equal(encoded, digest.Encoded);
        Assert.Equal(value, digest.Value);
        Assert.Equal(value, digest.ToString());
        Assert.False(digest.IsEmpty);
        Assert.True(Digest.TryParse(value, out var again));
        Assert.Equal(digest, again);
        Assert.Equal(digest, Digest.Parse(value.AsSpan(), null));
    }

    [Theory]
    [InlineData("sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855")] // uppercase hex
    [InlineData("sha256:E3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")] // one uppercase
    [InlineData("sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85")] // 63 hex
    [InlineData("sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b8555")] // 65 hex
    [InlineData("sha512:" + Sha256Hex)] // sha512 with sha256 length
    [InlineData("sha384:" + Sha256Hex)] // unknown algorithm
    [InlineData("md5:d41d8cd98f00b204e9800998ecf8427e")]
    [InlineData("SHA256:" + Sha256Hex)]
    [InlineData("sha256+b64u:" + Sha256Hex)]
    [InlineData("sha256:../x")]
    [InlineData("sha256:../../../../../../../../../../../../../../../../../../../../etc/passwd")]
    [InlineData("sha256:/etc/passwd")]
    [InlineData("sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b8/.")]
    [InlineData("")]
    [InlineData(" ")]
    [InlineData(":")]
    [InlineData("sha256:")]
    [InlineData(":" + Sha256Hex)]
    [InlineData(Sha256Hex)]
    [InlineData("sha256:" + Sha256Hex + "\n")]
    [InlineData(" sha256:" + Sha256Hex)]
    [InlineData("sha256:" + Sha256Hex + " ")]
    [InlineData("sha256 :" + Sha256Hex)]
    [InlineData("sha256::" + Sha256Hex)]
    [InlineData("sha256:g3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")]
    [InlineData("sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85\0")]
    [InlineData("sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85\u0663")] // Arabic-Indic digit
    public void Parse_Invalid_Rejected(string value)
    {
        Assert.False(Digest.TryParse(value, out var digest));
        Assert.True(digest.IsEmpty);
        Assert.Throws<FormatException>(() => Digest.Parse(value));
    }

    [Fact]
    public void TryParse_Null_ReturnsFalse() => Assert.False(Digest.TryParse((string?)null, out _));

    [Fact]
    public void Parse_Invalid_MessageTruncatesLongInput()
    {
        var ex = Assert.Throws<FormatException>(() => Digest.Parse(new string('a', 10_000)));
        Assert.True(ex.Message.Length < 300);
    }

    [Fact]
    public void Compute_KnownVectors_MatchStandardHashes()
    {
        Assert.Equal("sha256:" + Sha256Hex, Digest.Compute([]).Value);
        Assert.Equal("sha512:" + Sha512Hex, Digest.Compute(Digest.Sha512, []).Value);
        Assert.Equal("sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", Digest.Compute("abc"u8).Value);
    }

    [Fact]
    public async Task ComputeAsync_Stream_SameAsSpan()
    {
        byte[] data = Encoding.UTF8.GetBytes(new string('x', 100_000));
        Assert.Equal(Digest.Compute(data), await Digest.ComputeAsync(new MemoryStream(data)));
    }

    [Fact]
    public void Compute_UnknownAlgorithm_ThrowsNotSupported()
        => Assert.Throws<NotSupportedException>(() => Digest.Compute("md5", "abc"u8));

    [Fact]
    public void Matches_RightAndWrongData()
    {
        var digest = Digest.Compute("abc"u8);
        Assert.True(digest.Matches("abc"u8));
        Assert.False(digest.Matches("abd"u8));
        var sha512 = Digest.Compute(Digest.Sha512, "abc"u8);
        Assert.True(sha512.Matches("abc"u8));
    }

    [Fact]
    public void EqualityAndHash_ByValue()
    {
        var a = Digest.Parse("sha256:" + Sha256Hex);
        var b = Digest.Parse(string.Concat("sha256:", Sha256Hex)); // a different string instance
        var c = Digest.Compute("abc"u8);
        Assert.True(a == b);
        Assert.False(a != b);
        Assert.Equal(a.GetHashCode(), b.GetHashCode());
        Assert.True(a.Equals((object)b));
        Assert.NotEqual(a, c);
        Assert.True(a != c);
        Assert.False(a.Equals("sha256:" + Sha256Hex));
        Assert.Equal(2, new HashSet<Digest> { a, b, c }.Count);
        Assert.Equal(0, a.CompareTo(b));
        Assert.NotEqual(0, a.CompareTo(c));
    }

    [Fact]
    public void Default_IsEmptyAndThrowsOnValue()
    {
        Digest digest = default;
        Assert.True(digest.IsEmpty);
        Assert.Equal(string.Empty, digest.ToString());
        Assert.Throws<InvalidOperationException>(() => digest.Value);
        Assert.Equal(default, digest);
        Assert.NotEqual(Digest.Compute([]), digest);
    }

    [Theory]
    [InlineData("sha256", true)]
    [InlineData("sha512", true)]
    [InlineData("sha384", false)]
    [InlineData("SHA256", false)]
    [InlineData("", false)]
    public void IsSupportedAlgorithm_Table(string algorithm, bool expected)
        => Assert.Equal(expected, Digest.IsSupportedAlgorithm(algorithm));

    [Fact]
    public void CreateHasher_IncrementalHashEqualsOneShot()
    {
        var digest = Digest.Compute(Digest.Sha512, "hello world"u8);
        using var hasher = digest.CreateHasher();
        hasher.AppendData("hello "u8);
        hasher.AppendData("world"u8);
        Assert.Equal(digest, Digest.FromHash(Digest.Sha512, hasher.GetHashAndReset()));
    }
}

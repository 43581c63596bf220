namespace Accelerator.Abstractions.Tests.Images;

public sealed class ImageReferenceTests
{
    private const string Hex = "b5bb9d8014a0f9b1d61e21e796d78dccdf1352f23cd32812f4850b878ae4944c";
    private const string D = "sha256:" + Hex;

    [Theory]
    [InlineData("nginx", "docker.io", "library/nginx", "latest", null, "docker.io/library/nginx:latest")]
    [InlineData("nginx:1.25", "docker.io", "library/nginx", "1.25", null, "docker.io/library/nginx:1.25")]
    [InlineData("user/app", "docker.io", "user/app", "latest", null, "docker.io/user/app:latest")]
    [InlineData("docker.io/nginx", "docker.io", "library/nginx", "latest", null, "docker.io/library/nginx:latest")]
    [InlineData("index.docker.io/x", "docker.io", "library/x", "latest", null, "docker.io/library/x:latest")]
    [InlineData("registry-1.docker.io/user/x:v", "docker.io", "user/x", "v", null, "docker.io/user/x:v")]
    [InlineData("localhost/a", "localhost", "a", "latest", null, "localhost/a:latest")]
    [InlineData("localhost:5000/a/b:tag", "localhost:5000", "a/b", "tag", null, "localhost:5000/a/b:tag")]
    [InlineData("host.example.com/x", "host.example.com", "x", "latest", null, "host.example.com/x:latest")]
    [InlineData("127.0.0.1:5000/x@" + D, "127.0.0.1:5000", "x", null, D, "127.0.0.1:5000/x@" + D)]
    [InlineData("nginx:1.25@" + D, "docker.io", "library/nginx", "1.25", D, "docker.io/library/nginx:1.25@" + D)]
    [InlineData("nginx@" + D, "docker.io", "library/nginx", null, D, "docker.io/library/nginx@" + D)]
    [InlineData("[::1]:5000/x", "[::1]:5000", "x", "latest", null, "[::1]:5000/x:latest")]
    [InlineData("[fe80::1]/a/b:v1", "[fe80::1]", "a/b", "v1", null, "[fe80::1]/a/b:v1")]
    [InlineData("a/b/c/d-e__f.g:T_1.0-x", "docker.io", "a/b/c/d-e__f.g", "T_1.0-x", null, "docker.io/a/b/c/d-e__f.g:T_1.0-x")]
    [InlineData("Registry.Example.com/x", "Registry.Example.com", "x", "latest", null, "Registry.Example.com/x:latest")]
    public void Parse_Registry_Normalized(string input, string registry, string repository, string? tag, string? digest, string full)
    {
        var reference = ImageReference.Parse(input);

        Assert.Equal(ImageReferenceKind.Registry, reference.Kind);
        Assert.Equal(registry, reference.Registry);
        Assert.Equal(repository, reference.Repository);
        Assert.Equal(tag, reference.Tag);
        Assert.Equal(digest, reference.Digest?.ToString());
        Assert.Null(reference.LayoutPath);
        Assert.Equal(full, reference.ToString());
        Assert.Equal($"{registry}/{repository}", reference.Name);
        Assert.Equal(digest ?? tag, reference.Reference);
        Assert.Equal(reference, ImageReference.Parse(full)); // the full form is a fixed point
    }

    [Theory]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData("Nginx")] // uppercase repository
    [InlineData("docker.io/Library/nginx")]
    [InlineData("nginx:")]
    [InlineData("nginx@")]
    [InlineData("nginx@sha256:bad")]
    [InlineData("nginx@sha256:" + "B5BB9D8014A0F9B1D61E21E796D78DCCDF1352F23CD32812F4850B878AE4944C")]
    [InlineData("a//b")]
    [InlineData("a/")]
    [InlineData("/a")]
    [InlineData("a/b/")]
    [InlineData("-a")]
    [InlineData("a-")]
    [InlineData("a..b")]
    [InlineData("a___b")]
    [InlineData("nginx:-tag")]
    [InlineData("nginx:.tag")]
    [InlineData("nginx:ta g")]
    [InlineData("nginx:tag/x")]
    [InlineData("nginx\n")]
    [InlineData("nginx:tag\n")]
    [InlineData("ng\tinx")]
    [InlineData("nginx\0")]
    [InlineData("ngi\u001bnx")]
    [InlineData("host:port/x")] // non-numeric port
    [InlineData("-host.com/x")]
    [InlineData("[::1/x")]
    [InlineData("example.com:123456/x")]
    [InlineData("a@b@" + D)]
    public void Parse_Invalid_ThrowsFormatExceptionWithReason(string input)
    {
        Assert.False(ImageReference.TryParse(input, out var reference, out string? error));
        Assert.Null(reference);
        Assert.False(string.IsNullOrEmpty(error));
        var ex = Assert.Throws<FormatException>(() => ImageReference.Parse(input));
        Assert.Equal(error, ex.Message);
    }

    [Fact]
    public void Parse_TagOf128Characters_AcceptedButNot129()
    {
        Assert.Equal(new string('a', 128), ImageReference.Parse("nginx:" + new string('a', 128)).Tag);
        Assert.Throws<FormatException>(() => ImageReference.Parse("nginx:" + new string('a', 129)));
    }

    [Fact]
    public void Parse_RepositoryOver255_Rejected()
        => Assert.Throws<FormatException>(() => ImageReference.Parse("example.com/" + new string('a', 256)));

    [Fact]
    public void Parse_HugeInput_RejectedQuickly()
        => Assert.Throws<FormatException>(() => ImageReference.Parse(new string('a', 1_000_000)));

    [Fact]
    public void TryParse_Null_False() => Assert.False(ImageReference.TryParse(null, out _));

    [Theory]
    [InlineData("oci:dir", "dir", null, null)]
    [InlineData("oci:dir:tag", "dir", "tag", null)]
    [InlineData("oci:/abs/dir", "/abs/dir", null, null)]
    [InlineData("oci:/abs/dir:v1.0", "/abs/dir", "v1.0", null)]
    [InlineData("oci:/abs/dir@" + D, "/abs/dir", null, D)]
    [InlineData("oci:/abs/dir:tag@" + D, "/abs/dir", "tag", D)]
    [InlineData("oci:./rel/dir:t", "./rel/dir", "t", null)]
    [InlineData("oci:/a:b/c", "/a:b/c", null, null)] // a colon before the last slash belongs to the path
    public void Parse_Layout_PathTagDigest(string input, string path, string? tag, string? digest)
    {
        var reference = ImageReference.Parse(input);

        Assert.Equal(ImageReferenceKind.Layout, reference.Kind);
        Assert.Equal(path, reference.LayoutPath);
        Assert.Equal(tag, reference.Tag);
        Assert.Equal(digest, reference.Digest?.ToString());
        Assert.Equal(string.Empty, reference.Registry);
        Assert.Equal(string.Empty, reference.Repository);
        Assert.Equal(input, reference.ToString());
        Assert.Equal("oci:" + path, reference.Name);
    }

    [Theory]
    [InlineData("oci:")]
    [InlineData("oci::tag")]
    [InlineData("oci:dir:")]
    [InlineData("oci:dir:bad tag")]
    [InlineData("oci:dir@sha256:bad")]
    [InlineData("oci:dir@")]
    [InlineData("oci:dir\n")]
    public void Parse_InvalidLayout_ThrowsFormatException(string input)
        => Assert.Throws<FormatException>(() => ImageReference.Parse(input));

    [Fact]
    public void WithTag_ReplacesTagAndDropsDigest()
    {
        var reference = ImageReference.Parse("example.com/a:old@" + D).WithTag("new");
        Assert.Equal("example.com/a:new", reference.ToString());
        Assert.Null(reference.Digest);
    }

    [Theory]
    [InlineData("")]
    [InlineData("a b")]
    [InlineData("x\n")]
    [InlineData("-x")]
    public void WithTag_Invalid_ThrowsFormatException(string tag)
        => Assert.Throws<FormatException>(() => ImageReference.Parse("nginx").WithTag(tag));

    [Fact]
    public void WithDigest_KeepsTagForDisplay()
    {
        var reference = ImageReference.Parse("oci:/d:t").WithDigest(Digest.Parse(D));
        Assert.Equal($"oci:/d:t@{D}", reference.ToString());
        Assert.Equal(D, reference.Reference);
    }

    [Fact]
    public void Create_FromParts_ValidatedAndNormalized()
    {
        Assert.Equal("docker.io/library/nginx:1", ImageReference.Create("docker.io", "nginx", "1").ToString());
        Assert.Equal("localhost:5000/a@" + D, ImageReference.Create("localhost:5000", "a", null, Digest.Parse(D)).ToString());
        Assert.Throws<FormatException>(() => ImageReference.Create("localhost:5000", "A"));
    }

    [Fact]
    public void Equality_ByNormalizedForm()
    {
        Assert.Equal(ImageReference.Parse("nginx"), ImageReference.Parse("docker.io/library/nginx:latest"));
        Assert.Equal(ImageReference.Parse("nginx").GetHashCode(), ImageReference.Parse("index.docker.io/library/nginx").GetHashCode());
        Assert.NotEqual(ImageReference.Parse("nginx"), ImageReference.Parse("nginx:1"));
        Assert.False(ImageReference.Parse("nginx").Equals(null));
    }
}

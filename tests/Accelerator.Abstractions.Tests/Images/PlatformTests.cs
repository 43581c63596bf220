namespace Accelerator.Abstractions.Tests.Images;

public sealed class PlatformTests
{
    [Theory]
    [InlineData("linux/amd64", "linux", "amd64", null)]
    [InlineData("linux/arm64/v8", "linux", "arm64", "v8")]
    [InlineData("Linux/ARM/V7", "linux", "arm", "v7")]
    [InlineData("windows/amd64", "windows", "amd64", null)]
    public void Parse_Valid_Lowercased(string input, string os, string architecture, string? variant)
        => Assert.Equal(new Platform(os, architecture, variant), Platform.Parse(input));

    [Theory]
    [InlineData("")]
    [InlineData("linux")]
    [InlineData("linux/")]
    [InlineData("/amd64")]
    [InlineData("linux/amd64/")]
    [InlineData("linux/amd64/v8/x")]
    [InlineData("linux/amd 64")]
    [InlineData("linux//v8")]
    public void Parse_Invalid_ThrowsFormatException(string input)
        => Assert.Throws<FormatException>(() => Platform.Parse(input));

    [Theory]
    [InlineData("linux/x86_64", "linux/amd64")]
    [InlineData("linux/x86-64", "linux/amd64")]
    [InlineData("linux/aarch64", "linux/arm64/v8")]
    [InlineData("linux/arm64", "linux/arm64/v8")]
    [InlineData("linux/arm64/8", "linux/arm64/v8")]
    [InlineData("linux/arm64/v9", "linux/arm64/v9")]
    [InlineData("linux/armhf", "linux/arm/v7")]
    [InlineData("linux/armel", "linux/arm/v6")]
    [InlineData("linux/arm", "linux/arm/v7")]
    [InlineData("linux/arm/6", "linux/arm/v6")]
    [InlineData("linux/i386", "linux/386")]
    [InlineData("linux/i686", "linux/386")]
    [InlineData("linux/s390x", "linux/s390x")]
    public void Normalize_Table(string input, string expected)
        => Assert.Equal(expected, Platform.Parse(input).Normalize().ToString());

    [Theory]
    [InlineData("linux/amd64", "linux/amd64", true)]
    [InlineData("linux/x86_64", "linux/amd64", true)]
    [InlineData("linux/amd64", "linux/x86_64", true)]
    [InlineData("linux/arm64", "linux/arm64/v8", true)]
    [InlineData("linux/arm64/v8", "linux/arm64", true)]
    [InlineData("linux/arm/v7", "linux/arm", true)]
    [InlineData("linux/arm/v6", "linux/arm/v7", false)]
    [InlineData("linux/amd64", "linux/arm64", false)]
    [InlineData("linux/amd64", "windows/amd64", false)]
    [InlineData("linux/amd64", "linux/amd64/v3", true)] // a want without variant takes any
    public void Matches_Table(string want, string candidate, bool expected)
        => Assert.Equal(expected, Platform.Parse(want).Matches(Platform.Parse(candidate)));

    [Fact]
    public void Current_IsLinuxWithKnownArchitecture()
    {
        Assert.Equal("linux", Platform.Current.OS);
        Assert.Equal(Platform.Current, Platform.Current.Normalize());
        Assert.Contains(Platform.Current.Architecture, new[] { "amd64", "arm64", "386", "arm", "s390x", "ppc64le", "riscv64", "loong64" });
    }

    [Fact]
    public void Equals_OSFeaturesComparedByContent()
    {
        var a = new Platform("windows", "amd64") { OSVersion = "10.0", OSFeatures = ["win32k"] };
        var b = new Platform("windows", "amd64") { OSVersion = "10.0", OSFeatures = new List<string> { "win32k" } };
        var c = b with { OSFeatures = ["other"] };
        Assert.Equal(a, b);
        Assert.Equal(a.GetHashCode(), b.GetHashCode());
        Assert.NotEqual(a, c);
        Assert.NotEqual(a, a with { OSVersion = "11" });
    }

    [Fact]
    public void ToString_OsArchVariant()
    {
        Assert.Equal("linux/arm64/v8", Platform.LinuxArm64.ToString());
        Assert.Equal("linux/amd64", Platform.LinuxAmd64.ToString());
    }
}

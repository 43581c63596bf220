using Accelerator.Cli.Console;

namespace Accelerator.Cli.Tests.Console;

public sealed class UnitsTests
{
    [Theory]
    [InlineData(0L, "0 B")]
    [InlineData(1L, "1 B")]
    [InlineData(1023L, "1023 B")]
    [InlineData(1024L, "1.0 KiB")]
    [InlineData(1536L, "1.5 KiB")]
    [InlineData(1024L * 1024 - 1, "1024.0 KiB")]
    [InlineData(1024L * 1024, "1.0 MiB")]
    [InlineData(300L * 1024 * 1024, "300.0 MiB")]
    [InlineData(5L * 1024 * 1024 * 1024 + (512L * 1024 * 1024), "5.5 GiB")]
    [InlineData(2L * 1024 * 1024 * 1024 * 1024, "2.0 TiB")]
    public void Bytes_Value_FormatsWithBinaryUnit(long bytes, string expected)
        => Assert.Equal(expected, Units.Bytes(bytes));

    [Fact]
    public void Bytes_Huge_StaysInLargestUnit()
        => Assert.Equal("8388608.0 TiB", Units.Bytes(long.MaxValue));

    [Fact]
    public void Bytes_AnyCulture_UsesDotAsDecimalSeparator()
    {
        var previous = System.Globalization.CultureInfo.CurrentCulture;
        try
        {
            System.Globalization.CultureInfo.CurrentCulture = new System.Globalization.CultureInfo("de-DE");
            Assert.Equal("1.5 KiB", Units.Bytes(1536));
        }
        finally
        {
            System.Globalization.CultureInfo.CurrentCulture = previous;
        }
    }

    [Theory]
    [InlineData(0L, "0 layers")]
    [InlineData(1L, "1 layer")]
    [InlineData(2L, "2 layers")]
    [InlineData(1_000_000L, "1000000 layers")]
    public void Count_Value_PluralUnlessOne(long count, string expected)
        => Assert.Equal(expected, Units.Count(count, "layer"));

    [Theory]
    [InlineData("512", 512L)]
    [InlineData("512B", 512L)]
    [InlineData("64K", 64L << 10)]
    [InlineData("64KiB", 64L << 10)]
    [InlineData("100m", 100L << 20)]
    [InlineData("200M", 200L << 20)]
    [InlineData("10G", 10L << 30)]
    [InlineData("10gib", 10L << 30)]
    [InlineData("2T", 2L << 40)]
    [InlineData(" 1M ", 1L << 20)]
    public void ParseBytes_NumberWithBinaryUnit_Bytes(string text, long bytes)
        => Assert.Equal(bytes, Units.ParseBytes("--capacity", text));

    [Theory]
    [InlineData("")]
    [InlineData("0")]
    [InlineData("-5M")]
    [InlineData("1.5G")]
    [InlineData("G")]
    [InlineData("10GB")]
    [InlineData("10X")]
    [InlineData("lots")]
    [InlineData("99999999999T")]
    public void ParseBytes_NotAPositiveSize_OneMessageNamingTheFlag(string text)
    {
        var error = Assert.Throws<FormatException>(() => Units.ParseBytes("--capacity", text));

        Assert.StartsWith($"--capacity: '{text}' is ", error.Message);
        Assert.DoesNotContain('\n', error.Message);
    }

    [Fact]
    public void ParseBytes_ZeroWhereAllowed_Zero()
        => Assert.Equal(0, Units.ParseBytes("--memory-cache", "0", allowZero: true));

    [Fact]
    public void ParseBytes_PlainNumberWithPlainUnit_CountsThatUnit()
    {
        Assert.Equal(5000L * 1024, Units.ParseBytes("--bandwidth", "5000", plainUnit: 1024));
        Assert.Equal(20L << 20, Units.ParseBytes("--bandwidth", "20M", plainUnit: 1024));
    }

    [Theory]
    [InlineData("30", 30_000L)]
    [InlineData("30s", 30_000L)]
    [InlineData("250ms", 250L)]
    [InlineData("5m", 300_000L)]
    [InlineData("12h", 43_200_000L)]
    [InlineData("1d", 86_400_000L)]
    [InlineData(" 2h ", 7_200_000L)]
    public void ParseDuration_NumberWithUnit_Duration(string text, long milliseconds)
        => Assert.Equal(TimeSpan.FromMilliseconds(milliseconds), Units.ParseDuration("--ttl", text, TimeSpan.FromSeconds(1)));

    [Theory]
    [InlineData("")]
    [InlineData("0")]
    [InlineData("0s")]
    [InlineData("-5s")]
    [InlineData("1.5h")]
    [InlineData("h")]
    [InlineData("5w")]
    [InlineData("5 minutes")]
    [InlineData("99999999999999d")]
    public void ParseDuration_NotAPositiveDuration_OneMessageNamingTheFlag(string text)
    {
        var error = Assert.Throws<FormatException>(() => Units.ParseDuration("--ttl", text, TimeSpan.FromSeconds(1)));

        Assert.StartsWith($"--ttl: '{text}' is ", error.Message);
    }

    [Fact]
    public void ParseDuration_ZeroWhereAllowed_Zero()
        => Assert.Equal(TimeSpan.Zero, Units.ParseDuration("--idle-timeout", "0", TimeSpan.FromSeconds(1), allowZero: true));

    [Fact]
    public void ParseDuration_PlainNumber_NamesItsUnitInTheMessage()
    {
        var error = Assert.Throws<FormatException>(() => Units.ParseDuration("--ready-timeout", "soon", TimeSpan.FromSeconds(1)));

        Assert.Contains("a number alone is seconds", error.Message);
    }
}

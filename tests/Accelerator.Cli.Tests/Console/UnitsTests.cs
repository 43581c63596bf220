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
}

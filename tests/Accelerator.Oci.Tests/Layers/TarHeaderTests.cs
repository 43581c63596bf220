using System.Text;
using Accelerator.Oci.Layers;

namespace Accelerator.Oci.Tests.Layers;

public sealed class TarHeaderTests
{
    [Theory]
    [InlineData("0000644\0", 420)]
    [InlineData("  644 \0\0", 420)]
    [InlineData("\0\0\0\0\0\0\0\0", 0)]
    public void ParseNumeric_Octal_Decoded(string field, long expected) =>
        Assert.Equal(expected, TarHeader.ParseNumeric(Encoding.ASCII.GetBytes(field), "f"));

    [Fact]
    public void ParseNumeric_Base256_PositiveAndNegative()
    {
        Assert.Equal(0x0102030405, TarHeader.ParseNumeric([0x80, 0, 0, 0, 0, 0, 0, 0x01, 0x02, 0x03, 0x04, 0x05], "size"));
        Assert.Equal(-2, TarHeader.ParseNumeric([0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFE], "mtime", allowNegative: true));
        Assert.Throws<InvalidDataException>(() => TarHeader.ParseNumeric([0xFF, 0xFF, 0xFF, 0xFE], "size"));
        Assert.Throws<InvalidDataException>(() => TarHeader.ParseNumeric([0x80, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], "size"));
    }

    [Theory]
    [InlineData("12a4567\0")]
    [InlineData("777777777777777777777777")]
    [InlineData("12 34\0\0\0")]
    public void ParseNumeric_Invalid_ThrowsInvalidData(string field) =>
        Assert.Throws<InvalidDataException>(() => TarHeader.ParseNumeric(Encoding.ASCII.GetBytes(field), "f"));

    [Theory]
    [InlineData("1700000000.5", 1_700_000_000, 500_000_000)]
    [InlineData("1700000000.123456789123", 1_700_000_000, 123_456_789)]
    [InlineData("-1.25", -2, 750_000_000)]
    [InlineData("42", 42, 0)]
    public void ParseTime_Fractions_Nanoseconds(string value, long seconds, int nanoseconds) =>
        Assert.Equal(new TarTimestamp(seconds, nanoseconds), PaxRecords.ParseTime(Encoding.ASCII.GetBytes(value), "mtime"));

    [Theory]
    [InlineData("99999999999999999999")]
    [InlineData("9999999999999999999")]
    [InlineData("")]
    [InlineData("1x")]
    public void ParseInteger_Invalid_ThrowsInvalidData(string value) =>
        Assert.Throws<InvalidDataException>(() => PaxRecords.ParseInteger(Encoding.ASCII.GetBytes(value), "size"));

    [Theory]
    [InlineData("4 a=\n")]
    [InlineData("30 path=short\n")]
    [InlineData("x path=a\n")]
    [InlineData("9 path=a!")]
    [InlineData("8 =abcd\n")]
    public void PaxParse_Malformed_ThrowsInvalidData(string data) =>
        Assert.Throws<InvalidDataException>(() => PaxRecords.Parse(Encoding.ASCII.GetBytes(data), (_, _) => { }));

    [Fact]
    public void PaxParse_BinaryValue_KeptRaw()
    {
        byte[] record = [.. "22 SCHILY.xattr.a="u8, 0x00, 0xFF, 0x0A, 0x0A];
        var seen = new List<(string, byte[])>();
        PaxRecords.Parse(record, (k, v) => seen.Add((k, v)));
        Assert.Equal("SCHILY.xattr.a", seen.Single().Item1);
        Assert.Equal(new byte[] { 0x00, 0xFF, 0x0A }, seen.Single().Item2);
    }
}

using System.ComponentModel;
using System.Text.Json;

namespace Accelerator.Abstractions.Tests.Mounting;

public sealed class StrategyTests
{
    [Theory]
    [InlineData("lazy")]
    [InlineData("Lazy")]
    [InlineData("LAZY")]
    public void Parse_AnyCase_EqualsWellKnownAndPrintsLowercase(string name)
    {
        var strategy = Strategy.Parse(name);

        Assert.Equal(Strategy.Lazy, strategy);
        Assert.Equal("lazy", strategy.ToString());
        Assert.Equal("lazy", strategy.Name);
    }

    [Fact]
    public void WellKnown_Names_AreTheOnesStatisticsAndTheCliPrint()
        => Assert.Equal(["cache", "lazy", "block", "full"], new[] { Strategy.Cache, Strategy.Lazy, Strategy.Block, Strategy.Full }.Select(s => s.Name));

    [Fact]
    public void Parse_NewName_IsAStrategyOfItsOwn()
    {
        var strategy = Strategy.Parse("Estargz-2");

        Assert.Equal("estargz-2", strategy.Name);
        Assert.NotEqual(Strategy.Lazy, strategy);
    }

    [Theory]
    [InlineData("")]
    [InlineData("2lazy")]
    [InlineData("-lazy")]
    [InlineData("la zy")]
    [InlineData("lazy/fuse")]
    [InlineData("l\u00e4zy")]
    [InlineData("a123456789012345678901234567890123")]
    public void Parse_InvalidName_ThrowsFormatExceptionAndTryParseFails(string name)
    {
        Assert.Throws<FormatException>(() => Strategy.Parse(name));
        Assert.Throws<ArgumentException>(() => new Strategy(name));
        Assert.False(Strategy.TryParse(name, out var strategy));
        Assert.Equal(default, strategy);
    }

    [Fact]
    public void Default_HasNoName()
        => Assert.Equal(string.Empty, default(Strategy).ToString());

    [Fact]
    public void TypeConverter_FromConfigurationString_Parses()
    {
        var converter = TypeDescriptor.GetConverter(typeof(Strategy));

        Assert.True(converter.CanConvertFrom(typeof(string)));
        Assert.Equal(Strategy.Full, converter.ConvertFromInvariantString("Full"));
        Assert.Equal("block", converter.ConvertToInvariantString(Strategy.Block));
        Assert.ThrowsAny<Exception>(() => converter.ConvertFromInvariantString("no such/name"));
    }

    [Fact]
    public void Json_RoundTrip_IsTheName()
    {
        string json = JsonSerializer.Serialize(new[] { Strategy.Cache, Strategy.Parse("custom") });

        Assert.Equal("[\"cache\",\"custom\"]", json);
        Assert.Equal([Strategy.Cache, Strategy.Parse("custom")], JsonSerializer.Deserialize<Strategy[]>("[\"Cache\",\"custom\"]")!);
    }
}

using System.CommandLine;
using Accelerator.Cli.Console;
using Accelerator.Cli.Strategies;

namespace Accelerator.Cli.Tests.Strategies;

/// <summary>The commands take their strategies, formats and per-strategy options from the one registration list.</summary>
public sealed class CliStrategiesTests
{
    [Fact]
    public void Create_BuiltInStrategies_InHelpOrderWithFacadeNames()
    {
        var strategies = CliStrategies.Create();

        Assert.Equal([Strategy.Cache, Strategy.Lazy, Strategy.Block, Strategy.Full], strategies.Select(s => s.Strategy));
        Assert.Equal(["cache", "lazy", "block", "full"], strategies.Select(s => s.Name));
    }

    [Fact]
    public void Create_Twice_OptionsAreNewInstances()
        => Assert.NotSame(CliStrategies.Create()[0].MountOptions[0], CliStrategies.Create()[0].MountOptions[0]);

    [Fact]
    public void MountCommand_StrategyValuesAndOptions_ComeFromTheRegistrations()
    {
        var mount = Subcommand("mount");

        var strategy = mount.Options.Single(o => o.Name == "--strategy");
        Assert.Equal("auto (cache when a snapshot store exists, then lazy, block, full), cache, lazy, block or full.", strategy.Description);
        Assert.Single(mount.Options, o => o.Name == "--snapshot-dir");
        Assert.Single(mount.Options, o => o.Name == "--max-image-size");
    }

    [Fact]
    public void ConvertCommand_Formats_AreTheStrategiesWithAConversion()
    {
        var convert = Subcommand("convert");

        Assert.Equal(["lazy", "block"], CliStrategies.Create().Where(s => s.Conversion is not null).Select(s => s.Name));
        foreach (string name in new[] { "--chunk-size", "--chunk-dict", "--block-size", "--filesystem", "--free-space", "--prefetch-list", "--parallel" })
        {
            Assert.Single(convert.Options, o => o.Name == name);
        }
    }

    [Theory]
    [InlineData("mount", "--strategy", "estargz")]
    [InlineData("convert", "--format", "full")]
    public async Task Command_ValueNoRegistrationOffers_OneUsageError(string command, string option, string value)
    {
        var run = await Accel.RunAsync(command, "oci:/nonexistent", "/tmp", option, value);

        Assert.Equal(1, run.ExitCode);
        Assert.StartsWith($"accel: error: Argument '{value}' not recognized.", run.Error, StringComparison.Ordinal);
        Assert.Contains("'block'", run.Error, StringComparison.Ordinal);
    }

    private static Command Subcommand(string name)
        => AccelCommand.Create(new CliConsole(TextWriter.Null, TextWriter.Null, interactive: false)).Subcommands.Single(c => c.Name == name);
}

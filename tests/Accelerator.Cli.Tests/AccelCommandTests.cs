namespace Accelerator.Cli.Tests;

public sealed class AccelCommandTests
{
    [Fact]
    public async Task RunAsync_Help_ListsEveryCommand()
    {
        var run = await Accel.RunAsync("--help");

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Matches(@"(?m)^\s+pull <REF> <DIR>\s+\S", run.Out);
        Assert.Matches(@"(?m)^\s+inspect <REF>\s+\S", run.Out);
        Assert.Matches(@"(?m)^\s+copy <SRC> <DST>\s+\S", run.Out);
        Assert.Matches(@"(?m)^\s+demo\s+\S", run.Out);
        Assert.Contains("--plain-http", run.Out);
        Assert.Equal(string.Empty, run.Error);
    }

    [Theory]
    [InlineData("pull", "--parallel")]
    [InlineData("inspect", "--platform")]
    [InlineData("copy", "--single-platform")]
    [InlineData("demo", "--size-mb")]
    public async Task RunAsync_CommandHelp_ListsItsOptions(string command, string option)
    {
        var run = await Accel.RunAsync(command, "--help");

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Matches($@"(?m)^Usage:\n  \S+ {command} ", run.Out);
        Assert.Contains(option, run.Out);
        Assert.Contains("--plain-http", run.Out);
    }

    [Theory]
    [InlineData("pull")]
    [InlineData("pull", "oci:/tmp/layout:v1")]
    [InlineData("inspect")]
    [InlineData("copy", "oci:/tmp/a:v1")]
    public async Task RunAsync_MissingArguments_OneErrorLineAndExitOne(params string[] args)
    {
        var run = await Accel.RunAsync(args);

        Assert.Equal(1, run.ExitCode);
        Assert.Equal(string.Empty, run.Out);
        string line = Assert.Single(run.ErrorLines);
        Assert.StartsWith("accel: error: Required argument missing", line);
        Assert.EndsWith($"See 'accel {args[0]} --help'.", line);
    }

    [Fact]
    public async Task RunAsync_NoCommand_OneErrorLineAndExitOne()
    {
        var run = await Accel.RunAsync();

        Assert.Equal(1, run.ExitCode);
        Assert.Equal(string.Empty, run.Out);
        Assert.Equal("accel: error: Required command was not provided. See 'accel --help'.", Assert.Single(run.ErrorLines));
    }

    [Fact]
    public async Task RunAsync_UnknownCommand_NamesIt()
    {
        var run = await Accel.RunAsync("mount-everything");

        Assert.Equal(1, run.ExitCode);
        Assert.Contains("'mount-everything'", Assert.Single(run.ErrorLines));
    }

    [Fact]
    public async Task RunAsync_OptionValueNotANumber_OneErrorLine()
    {
        var run = await Accel.RunAsync("pull", "--parallel", "many", "oci:/tmp/layout:v1", "/tmp/never");

        Assert.Equal(1, run.ExitCode);
        Assert.Contains("'many'", Assert.Single(run.ErrorLines));
        Assert.False(Directory.Exists("/tmp/never"));
    }
}

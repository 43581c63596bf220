namespace Accelerator.Cli.Tests.Commands;

public sealed class ContainerdCommandTests
{
    [Fact]
    public async Task PullHelp_ListsContainerdAndRegistryOptions()
    {
        var run = await Accel.RunAsync("containerd", "pull", "--help");

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Matches(@"(?m)^Usage:\n  \S+ containerd pull <REF> ", run.Out);
        foreach (string option in new[] { "--address", "--namespace", "--snapshotter", "--plain-http", "--hosts-dir", "--mirror", "--auth-file" })
        {
            Assert.Contains(option, run.Out);
        }

        Assert.Contains("/run/containerd/containerd.sock", run.Out);
    }

    [Fact]
    public async Task Pull_MissingReference_OneErrorLineAndExitOne()
    {
        var run = await Accel.RunAsync("containerd", "pull");

        Assert.Equal(1, run.ExitCode);
        string line = Assert.Single(run.ErrorLines);
        Assert.StartsWith("accel: error: Required argument missing", line);
        Assert.EndsWith("See 'accel containerd pull --help'.", line);
    }

    [Theory]
    [InlineData("--namespace", "bad/namespace")]
    [InlineData("--namespace", "")]
    [InlineData("--snapshotter", "")]
    public async Task Pull_InvalidNamespaceOrSnapshotter_OneErrorLineBeforeAnyConnection(string option, string value)
    {
        var run = await Accel.RunAsync("containerd", "pull", "127.0.0.1:1/app:v1", "--address", "/nonexistent/containerd.sock", option, value);

        Assert.Equal(1, run.ExitCode);
        string line = Assert.Single(run.ErrorLines);
        Assert.StartsWith("accel: error: Invalid containerd pull options", line);
        Assert.Equal(string.Empty, run.Out);
    }

    [Fact]
    public async Task Pull_LayoutReference_OneErrorLine()
    {
        var run = await Accel.RunAsync("containerd", "pull", "oci:/nonexistent/layout:v1", "--address", "/nonexistent/containerd.sock");

        Assert.Equal(1, run.ExitCode);
        Assert.Single(run.ErrorLines);
    }
}

namespace Accelerator.Cli.Tests.Commands;

/// <summary>
/// One name per concept in every command (<c>--snapshot-dir</c>, <c>--chunk-cache-dir</c>, <c>--block-cache-dir</c>),
/// old spellings still accepted but not shown, and units for every size and duration flag.
/// </summary>
public sealed class FlagVocabularyTests : IDisposable
{
    private readonly string _work = Directory.CreateTempSubdirectory("accel-flags-").FullName;

    public void Dispose() => Directory.Delete(_work, recursive: true);

    [Theory]
    [InlineData(new[] { "mount" }, "--chunk-cache-dir", "--cache-dir")]
    [InlineData(new[] { "mount" }, "--block-cache-dir", "--cache-dir")]
    [InlineData(new[] { "mount" }, "--snapshot-dir", "--cache-dir")]
    [InlineData(new[] { "block", "serve" }, "--block-cache-dir", "--cache-dir")]
    [InlineData(new[] { "cache", "list" }, "--snapshot-dir", "--cache-dir")]
    [InlineData(new[] { "cache", "warm" }, "--ttl", "--ttl-hours")]
    [InlineData(new[] { "replicate", "serve" }, "--max-body-size", "--max-body-bytes")]
    public async Task Help_RenamedFlag_ShowsTheNewNameOnly(string[] command, string shown, string hidden)
    {
        var run = await Accel.RunAsync([.. command, "--help"]);

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Contains(shown + " ", run.Out, StringComparison.Ordinal);
        Assert.DoesNotContain(hidden + " ", run.Out, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--snapshot-dir")]
    [InlineData("--cache-dir")]
    public async Task CacheList_SnapshotDirectoryByEitherName_ListsThatStore(string flag)
    {
        string store = Path.Combine(_work, "snapshots");

        var run = await Accel.RunAsync("cache", "list", flag, store, "--capacity", "10G", "--ttl", "12h");

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Contains("0 snapshots", run.Out, StringComparison.Ordinal);
        Assert.True(Directory.Exists(store));
    }

    [Theory]
    [InlineData("cache", "list", "--capacity", "lots")]
    [InlineData("cache", "list", "--ttl", "soon")]
    [InlineData("mount", "--ready-timeout", "5x", "oci:/nonexistent:v1", "/nonexistent")]
    [InlineData("block", "serve", "--idle-timeout", "-1", "--nbd", "unix:/nonexistent/s", "oci:/nonexistent:v1")]
    [InlineData("p2p", "scheduler", "--listen", "http://127.0.0.1:0", "--peer-ttl", "10q")]
    [InlineData("p2p", "scheduler", "--listen", "http://127.0.0.1:0", "--piece-size", "4Q")]
    [InlineData("replicate", "--bandwidth", "fast", "127.0.0.1:1", "127.0.0.1:2")]
    public async Task Run_BadSizeOrDuration_OneErrorLineNamingTheFlag(params string[] args)
    {
        string flag = args.First(a => a.StartsWith("--", StringComparison.Ordinal) && a != "--listen" && a != "--nbd");

        var run = await Accel.RunAsync(args);

        Assert.Equal(1, run.ExitCode);
        string line = Assert.Single(run.ErrorLines);
        Assert.StartsWith($"accel: error: {flag}: '", line);
    }
}

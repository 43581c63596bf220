using Accelerator.Cli.Commands.Demo;
using Accelerator.Cli.Console;

namespace Accelerator.Cli.Tests.Commands.Demo;

public sealed class DemoResultTests
{
    private static readonly DemoResult[] Results =
    [
        new("full", TimeSpan.FromSeconds(1.234), 64L << 20, 4L << 20, 64L << 20, "4 layers pulled"),
        new("cache", TimeSpan.FromMilliseconds(7.6), 0, 4L << 20, 2048, "cloned"),
        DemoResult.Skipped("block", "/dev/loop-control is not usable"),
    ];

    [Fact]
    public void WriteTable_Redirected_WritesAlignedPlainRowsWithSkipReasons()
    {
        var output = new StringWriter();

        DemoResult.WriteTable(new CliConsole(output, TextWriter.Null, interactive: false), Results);

        string[] lines = output.ToString().TrimEnd().Split('\n').Select(l => l.TrimEnd('\r')).ToArray();
        Assert.Equal(5, lines.Length);
        Assert.StartsWith("strategy | time to ready | bytes fetched | bytes read | registry bytes | note", lines[0]);
        Assert.Equal("full     | 1.23 s        | 64.0 MiB      | 4.0 MiB    | 64.0 MiB       | 4 layers pulled", lines[2]);
        Assert.Equal("cache    | 8 ms          | 0 B           | 4.0 MiB    | 2.0 KiB        | cloned", lines[3]);
        Assert.Equal("block    | -             | -             | -          | -              | skipped: /dev/loop-control is not usable", lines[4]);
        Assert.All(lines.Where(l => l.Contains('|')), l => Assert.Equal(lines[0].IndexOf('|'), l.IndexOf('|')));
    }

    [Fact]
    public void WriteTable_Terminal_DrawsATableWithEveryRow()
    {
        var output = new StringWriter();

        DemoResult.WriteTable(new CliConsole(output, TextWriter.Null, interactive: true), Results);

        // Spectre.Console draws box lines and wraps cells to the console width (80 columns when not a real terminal).
        string table = output.ToString();
        Assert.StartsWith("┌", table);
        Assert.Matches(@"│ full\s+│ 1\.23 s\s+│ 64\.0 MiB\s+│ 4\.0 MiB\s+│ 64\.0 MiB\s+│", table);
        Assert.Matches(@"│ cache\s+│ 8 ms\s+│ 0 B\s+│", table);
        Assert.Matches(@"│ block\s+│ -\s+│ -\s+│ -\s+│ -\s+│ skipped:", table);
        Assert.DoesNotContain(" | ", table);
    }

    [Fact]
    public void Skipped_Reason_DidNotRun()
    {
        var skipped = DemoResult.Skipped("lazy", "no /dev/fuse");

        Assert.False(skipped.Ran);
        Assert.Equal("skipped: no /dev/fuse", skipped.Note);
    }
}
